package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// healthcheck probes grpc.health.v1 once, for containers without a shell or grpc_health_probe.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck", "[flags]", stderr)
	addr := fs.String("addr", defaultHealthcheckAddr(), "gRPC `address` of the service")
	service := fs.String("service", "", "service `name` to ask about (\"\" is the whole server)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `long`")
	useTLS := fs.Bool("tls", false, "connect with TLS")
	caFile := fs.String("ca-file", "", "PEM `file` of the CA that signed the server certificate (default: system roots)")
	certFile := fs.String("cert-file", "", "client certificate PEM `file`, for mTLS")
	keyFile := fs.String("key-file", "", "client key PEM `file`, for mTLS")
	serverName := fs.String("server-name", "", "expected `name` in the server certificate (default: the host of --addr)")
	skipVerify := fs.Bool("insecure-skip-verify", false, "with --tls, do not verify the server certificate")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cognito-authz healthcheck: unexpected argument %q\n", fs.Arg(0))
		return exitBadArgs
	}
	creds := insecure.NewCredentials()
	if *useTLS {
		tc := &tls.Config{ServerName: *serverName, InsecureSkipVerify: *skipVerify, MinVersion: tls.VersionTLS12}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintf(stderr, "cognito-authz healthcheck: --ca-file: %v\n", err)
				return exitBadArgs
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				fmt.Fprintf(stderr, "cognito-authz healthcheck: --ca-file: %q holds no PEM certificate\n", *caFile)
				return exitBadArgs
			}
		}
		if *certFile != "" || *keyFile != "" {
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				fmt.Fprintf(stderr, "cognito-authz healthcheck: --cert-file/--key-file: %v\n", err)
				return exitBadArgs
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient("passthrough:///"+*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz healthcheck: --addr: %v\n", err)
		return exitBadArgs
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: *service})
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz healthcheck: %s: %v\n", *addr, err)
		return exitFailed
	}
	fmt.Fprintln(stdout, resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return exitFailed
	}
	return exitOK
}

// defaultHealthcheckAddr is the default listen address's port on loopback: where a container's
// own service answers when started with the defaults.
func defaultHealthcheckAddr() string {
	_, port, err := net.SplitHostPort(extauthz.DefaultConfig().Listen)
	if err != nil {
		panic("extauthz.DefaultConfig().Listen is not host:port: " + err.Error())
	}
	return net.JoinHostPort("127.0.0.1", port)
}
