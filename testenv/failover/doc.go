// Package failover holds the multi-replica test: cognito-authz scales out as stateless
// replicas behind Envoy, not by anything of its own. TestKillOneReplicaUnderLoad runs two real
// cognito-authz processes behind one real Envoy, ends one of them under steady load (SIGKILL, and
// a graceful SIGTERM) and counts the requests that failed; TestStalledReplicasAreWaitedFor freezes
// both for a moment shorter than the check's timeout, which must not fail a request either. The
// package has no code of its own: the Envoy settings it exercises live in testenv/envoyconf's
// template, like every other config.
package failover
