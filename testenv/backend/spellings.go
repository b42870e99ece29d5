package backend

// OpsPath is not served: tests protect it with a rule for another group than AdminPath's, so that
// the two rules rank alike.
const OpsPath = "/api/ops"

// PathSpelling is a request line's path, sent as written.
type PathSpelling struct {
	Path string
	// UnderOps: read as sent, it is under OpsPath (send it with a token of OpsPath's group);
	// otherwise it reads as outside every protected route (send it with no token).
	UnderOps bool
}

// AdminPathSpellings are paths that an app server might route to AdminPath while, read as sent,
// they are somewhere else: dot segments (resolved by Tomcat and Spring), ";" parameters (which
// they strip), a raw "#" (kept by some, a fragment to others), and percent-encoded forms of each.
// Every one must be denied in front of the app, or reach it only as a path it cannot route to
// AdminPath.
var AdminPathSpellings = []PathSpelling{
	{"/api/ops/../admin", true},
	{"/api/ops/%2e%2e/admin", true},
	{"/api/ops/..;x/admin", true},
	{"/api/ops/..%3bx/admin", true},
	{"/api/ops%2f..%2fadmin", true},
	{"/api/ops#/../admin", true},
	{"/api/ops%23/../admin", true},
	{"/api/admin;x", false},
	{"/api/admin;jsessionid=1/users", false},
	{"/api/admin%3bx", false},
	{"/healthz#/../api/admin", false},
	{"/healthz%23/../api/admin", false},
	{"/healthz/..;/api/admin", false},
}
