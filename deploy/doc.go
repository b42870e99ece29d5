// Package deploy holds no code: it is the home of the tests that load the deployment artifacts
// (../Dockerfile, ../docker-compose.yml, kubernetes/, istio/, envoy-gateway/) with the parsers the
// real tools use, so a broken manifest fails here rather than in a user's cluster. It is its own
// Go module so that those parsers stay out of the service's dependencies.
package deploy
