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
	if want := []string{"authz", "demo", "envoy"}; !slices.Equal(names, want) {
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
		{"envoy", []string{"authz", "demo"}},
		{"authz", []string{"demo"}},
		{"demo", nil},
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
	// The demo signs users in and mints their tokens: for this machine, not its network.
	if ports[0].HostIP != "127.0.0.1" {
		t.Errorf("envoy publishes on host address %q, want 127.0.0.1", ports[0].HostIP)
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
	for _, want := range []string{"authz", "demo"} {
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
	demo := service(t, p, "demo").Command
	for _, flag := range []string{"--listen", "--cognito-listen"} {
		listen, ok := flagValue(demo, flag)
		if !ok {
			t.Fatalf("demo: command names no %s", flag)
		}
		out["demo"] = append(out["demo"], portOf(t, listen))
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

	// The issuer it trusts is the demo's cognito-local, under the names the demo seeds it with.
	demo := service(t, p, "demo").Command
	base, _ := flagValue(demo, "--issuer-domain")
	pool, _ := flagValue(demo, "--pool-id")
	client, _ := flagValue(demo, "--client-id")
	if len(cfg.Issuers) != 1 {
		t.Fatalf("config has %d issuers, want the local one", len(cfg.Issuers))
	}
	is := cfg.Issuers[0]
	if is.Issuer != base+"/"+pool {
		t.Errorf("issuer %q, want %q (the demo's --issuer-domain and --pool-id)", is.Issuer, base+"/"+pool)
	}
	if is.JWKSURL != base+"/"+pool+"/.well-known/jwks.json" {
		t.Errorf("jwks_url %q, not the pool's keys", is.JWKSURL)
	}
	if !slices.Contains(is.ClientIDs, client) {
		t.Errorf("client_ids %q lack the demo's client %q", is.ClientIDs, client)
	}
	if !cfg.TokenSources.AmplifyCookies {
		t.Error("amplify_cookies off: the web app's session would be anonymous")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if listen, _ := flagValue(demo, "--cognito-listen"); u.Hostname() != "demo" || u.Port() != portOf(t, listen) {
		t.Errorf("demo --issuer-domain %s is not where the demo serves cognito-local's API (%s)", base, listen)
	}
	if hc := strings.Join(service(t, p, "demo").HealthCheck.Test, " "); !strings.Contains(hc, "/"+pool+"/.well-known/jwks.json") {
		t.Errorf("demo healthcheck %q does not fetch the pool's keys", hc)
	}

	// The token tool asks the demo's token listener.
	token, ok := p.DisabledServices["token"]
	if !ok {
		t.Fatal("no token tool")
	}
	from, _ := flagValue(token.Entrypoint, "--from")
	tokenListen, _ := flagValue(demo, "--token-listen")
	if fu, err := url.Parse(from); err != nil || fu.Hostname() != "demo" || fu.Port() != portOf(t, tokenListen) {
		t.Errorf("token tool %q does not ask the demo's --token-listen %s", token.Entrypoint, tokenListen)
	}

	checkConfig(t, dockerBuilt(t, "build", "cognito-authz"), configFile)
}

func TestComposeDemoServicesRunTestenv(t *testing.T) {
	p := loadCompose(t)
	df := mustParseDockerfile(t)
	demo := service(t, p, "demo")
	if demo.Build == nil || demo.Build.Context != repoPath() {
		t.Fatal("demo: want a build from the repository")
	}
	if _, ok := df.stage(demo.Build.Target); !ok || demo.Build.Target != "testenv" {
		t.Errorf("demo builds target %q, want the Dockerfile's testenv stage", demo.Build.Target)
	}
	if len(demo.Command) == 0 || demo.Command[0] != "demo" {
		t.Errorf("demo runs %q, want the testenv subcommand demo", demo.Command)
	}
	if !demo.ReadOnly || !slices.Equal(demo.CapDrop, []string{"ALL"}) {
		t.Errorf("demo: want a read-only root filesystem and every capability dropped")
	}
	token := p.DisabledServices["token"]
	if token.Image != demo.Image || len(token.Entrypoint) < 2 || token.Entrypoint[0] != "testenv" || token.Entrypoint[1] != "token" {
		t.Errorf("token tool runs %q on %q, want testenv token on the demo's image %q", token.Entrypoint, token.Image, demo.Image)
	}
}
