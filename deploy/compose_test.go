package deploy

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads ../docker-compose.yml as `docker compose` does (schema validation included),
// with an empty environment so nothing of the machine running the test leaks in.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	ctx := context.Background()
	details, err := loader.LoadConfigFiles(ctx, []string{repoPath("docker-compose.yml")}, repoPath())
	if err != nil {
		t.Fatal(err)
	}
	details.Environment = types.Mapping{}
	project, err := loader.LoadWithContext(ctx, *details)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("no service %q in docker-compose.yml", name)
	}
	return s
}

// flagValue returns the value following flag in args.
func flagValue(args []string, flag string) (string, bool) {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	if p.Name != "cognito-authz" {
		t.Errorf("project name %q", p.Name)
	}
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"authz", "backend", "envoy", "issuer"}; !slices.Equal(names, want) {
		t.Errorf("`docker compose up` starts %q, want %q", names, want)
	}
	var tools []string
	for name := range p.DisabledServices {
		tools = append(tools, name)
	}
	if !slices.Equal(tools, []string{"token"}) {
		t.Errorf("services outside the default profile: %q, want only the token tool", tools)
	}
	if img := service(t, p, "envoy").Image; !strings.HasPrefix(img, "envoyproxy/envoy:v1.40.") {
		t.Errorf("envoy image %q: want the official envoyproxy/envoy at v1.40.x", img)
	}
}

func TestComposeHealthchecksAndDependencies(t *testing.T) {
	p := loadCompose(t)
	tests := []struct {
		service   string
		dependsOn []string
	}{
		{"envoy", []string{"authz", "backend"}},
		{"authz", []string{"issuer"}},
		{"issuer", nil},
		{"backend", nil},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, p, tt.service)
			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Fatalf("no healthcheck")
			}
			if hc.Test[0] != "CMD" {
				t.Errorf("healthcheck %q: want exec form (CMD), these images have no /bin/sh", hc.Test)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
				t.Errorf("healthcheck without interval, timeout or retries")
			}
			var deps []string
			for name, dep := range s.DependsOn {
				deps = append(deps, name)
				if dep.Condition != types.ServiceConditionHealthy {
					t.Errorf("depends_on %s: condition %q, want %s", name, dep.Condition, types.ServiceConditionHealthy)
				}
			}
			slices.Sort(deps)
			if !slices.Equal(deps, tt.dependsOn) {
				t.Errorf("depends_on %q, want %q", deps, tt.dependsOn)
			}
		})
	}
}

func TestComposePublishesOnlyEnvoysListener(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		if name != "envoy" && len(s.Ports) > 0 {
			t.Errorf("service %s publishes %v: only Envoy's listener may be reachable from the host", name, s.Ports)
		}
	}
	ports := service(t, p, "envoy").Ports
	if len(ports) != 1 {
		t.Fatalf("envoy publishes %d ports, want 1 (its listener; not the admin port)", len(ports))
	}
	listener := composeEnvoyConfig(t).StaticResources.Listeners[0].Address.SocketAddress
	if ports[0].Target != uint32(listener.PortValue) || ports[0].Published != strconv.Itoa(listener.PortValue) {
		t.Errorf("envoy publishes %s:%d, want %d:%d, envoy.yaml's listener", ports[0].Published, ports[0].Target, listener.PortValue, listener.PortValue)
	}
}

// bindMount returns the service's bind mount onto target.
func bindMount(t *testing.T, s types.ServiceConfig, target string) types.ServiceVolumeConfig {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			if v.Type != types.VolumeTypeBind {
				t.Errorf("%s: %s is a %s, want a bind mount", s.Name, target, v.Type)
			}
			if !v.ReadOnly {
				t.Errorf("%s: %s is mounted writable, want read-only", s.Name, target)
			}
			return v
		}
	}
	t.Fatalf("%s mounts nothing at %s", s.Name, target)
	return types.ServiceVolumeConfig{}
}

func TestComposeEnvoyRunsTheValidatedConfig(t *testing.T) {
	p := loadCompose(t)
	envoy := service(t, p, "envoy")
	configPath, ok := flagValue(envoy.Command, "-c")
	if !ok {
		t.Fatalf("envoy command %q names no -c config", envoy.Command)
	}
	if src := bindMount(t, envoy, configPath).Source; src != repoPath("envoy", "envoy.yaml") {
		t.Errorf("envoy runs %s, want envoy/envoy.yaml (the file validated with envoy --mode validate)", src)
	}

	// Envoy reaches the other services by their compose names, on the ports they listen on.
	listens := composeListenPorts(t, p)
	cfg := composeEnvoyConfig(t)
	var reached []string
	for _, c := range cfg.StaticResources.Clusters {
		for _, e := range c.LoadAssignment.Endpoints {
			for _, lb := range e.LBEndpoints {
				sa := lb.Endpoint.Address.SocketAddress
				ports, ok := listens[sa.Address]
				if !ok {
					t.Errorf("cluster %s points at %q, which is no compose service", c.Name, sa.Address)
					continue
				}
				if !slices.Contains(ports, strconv.Itoa(sa.PortValue)) {
					t.Errorf("cluster %s points at %s:%d; %s listens on %q", c.Name, sa.Address, sa.PortValue, sa.Address, ports)
				}
				reached = append(reached, sa.Address)
			}
		}
	}
	for _, want := range []string{"authz", "backend"} {
		if !slices.Contains(reached, want) {
			t.Errorf("no Envoy cluster reaches %s", want)
		}
	}

	// The healthcheck asks the admin port the config opens.
	admin := cfg.Admin.Address.SocketAddress.PortValue
	if hc := strings.Join(envoy.HealthCheck.Test, " "); !strings.Contains(hc, "/"+strconv.Itoa(admin)+" ") || !strings.Contains(hc, "/ready") {
		t.Errorf("envoy healthcheck %q does not ask /ready on admin port %d", hc, admin)
	}
}

// composeListenPorts returns the ports each service listens on, read from its own configuration.
func composeListenPorts(t *testing.T, p *types.Project) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range []string{"issuer", "backend"} {
		listen, ok := flagValue(service(t, p, name).Command, "--listen")
		if !ok {
			t.Fatalf("%s: command names no --listen", name)
		}
		out[name] = []string{portOf(t, listen)}
	}
	cfg := parseServiceConfig(t, readFile(t, composeAuthzConfigPath(t, p)))
	out["authz"] = []string{portOf(t, cfg.Listen), portOf(t, cfg.AdminListen)}
	return out
}

// composeAuthzConfigPath is the host file mounted as the authz service's --config.
func composeAuthzConfigPath(t *testing.T, p *types.Project) string {
	t.Helper()
	authz := service(t, p, "authz")
	target, ok := flagValue(authz.Command, "--config")
	if !ok {
		t.Fatalf("authz command %q names no --config", authz.Command)
	}
	return bindMount(t, authz, target).Source
}

func TestComposeAuthz(t *testing.T) {
	p := loadCompose(t)
	authz := service(t, p, "authz")
	configFile := composeAuthzConfigPath(t, p)
	if configFile != repoPath("deploy", "compose", "cognito-authz.yaml") {
		t.Errorf("authz reads %s, want deploy/compose/cognito-authz.yaml", configFile)
	}
	if authz.Build == nil || authz.Build.Target != serviceStage || authz.Build.Context != repoPath() {
		t.Errorf("authz build %+v: want the repository's Dockerfile, target %s", authz.Build, serviceStage)
	}
	if !authz.ReadOnly || !slices.Equal(authz.CapDrop, []string{"ALL"}) {
		t.Errorf("authz: want a read-only root filesystem and every capability dropped")
	}

	// Compose probes the service the way the image's own HEALTHCHECK does, on the port it listens on.
	cfg := parseServiceConfig(t, readFile(t, configFile))
	if want := serviceHealthcheck(t, mustParseDockerfile(t)); !slices.Equal(authz.HealthCheck.Test, want) {
		t.Errorf("authz healthcheck %q, want the Dockerfile's %q", authz.HealthCheck.Test, want)
	}
	if addr, _ := flagValue(authz.HealthCheck.Test, "--addr"); portOf(t, addr) != portOf(t, cfg.Listen) {
		t.Errorf("authz healthcheck probes %s, but the service listens on %s", addr, cfg.Listen)
	}

	// The issuer it trusts is the compose issuer, under the names that issuer mints with.
	issuer := service(t, p, "issuer").Command
	base, _ := flagValue(issuer, "--base-url")
	pool, _ := flagValue(issuer, "--pool-id")
	client, _ := flagValue(issuer, "--client-id")
	if len(cfg.Issuers) != 1 {
		t.Fatalf("config has %d issuers, want the local one", len(cfg.Issuers))
	}
	is := cfg.Issuers[0]
	if is.Issuer != base+"/"+pool {
		t.Errorf("issuer %q, want %q (the issuer's --base-url and --pool-id)", is.Issuer, base+"/"+pool)
	}
	if is.JWKSURL != base+"/"+pool+"/.well-known/jwks.json" {
		t.Errorf("jwks_url %q, not the issuer's JWKS", is.JWKSURL)
	}
	if !slices.Contains(is.ClientIDs, client) {
		t.Errorf("client_ids %q lack the issuer's client %q", is.ClientIDs, client)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if listen, _ := flagValue(issuer, "--listen"); u.Hostname() != "issuer" || u.Port() != portOf(t, listen) {
		t.Errorf("issuer --base-url %s is not where the issuer service listens (%s)", base, listen)
	}
	if hc := strings.Join(service(t, p, "issuer").HealthCheck.Test, " "); !strings.Contains(hc, "/"+pool+"/.well-known/jwks.json") {
		t.Errorf("issuer healthcheck %q does not fetch the pool's JWKS", hc)
	}

	// The token tool asks that same issuer.
	token, ok := p.DisabledServices["token"]
	if !ok {
		t.Fatal("no token tool")
	}
	if !slices.Contains(token.Entrypoint, base+"/"+pool+"/token") {
		t.Errorf("token tool %q does not POST to %s/%s/token", token.Entrypoint, base, pool)
	}

	checkConfig(t, dockerBuilt(t, "build", "cognito-authz"), configFile)
}

func TestComposeDemoServicesRunTestenv(t *testing.T) {
	p := loadCompose(t)
	df := mustParseDockerfile(t)
	for _, name := range []string{"issuer", "backend"} {
		s := service(t, p, name)
		if s.Build == nil || s.Build.Context != repoPath() {
			t.Errorf("%s: want a build from the repository", name)
			continue
		}
		if _, ok := df.stage(s.Build.Target); !ok || s.Build.Target != "testenv" {
			t.Errorf("%s builds target %q, want the Dockerfile's testenv stage", name, s.Build.Target)
		}
		if len(s.Command) == 0 || s.Command[0] != name {
			t.Errorf("%s runs %q, want the testenv subcommand %q", name, s.Command, name)
		}
	}
}
