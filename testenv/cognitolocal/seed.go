package cognitolocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// AdminGroup is the seeded group that /api/admin requires.
const AdminGroup = "admin"

// Pool is the seeded user pool: SMS MFA optional, one app client, group AdminGroup, two users.
type Pool struct {
	ID       string // local_XXXXXXXX
	ClientID string // allows USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH, no secret
	Region   string // "local": the part of the pool id before "_", as Amplify derives it
	Issuer   string // what the pool's tokens carry as iss
	JWKSURL  string // the pool's keys
	Admin    User   // in group AdminGroup; signing in asks for an SMS code
	User     User   // in no group, no MFA
	// PasswordPolicy is what the pool declares, and the Front enforces.
	PasswordPolicy cognitoapi.PasswordPolicy
}

// DemoPasswordPolicy is the seeded pool's password policy: Cognito's default.
var DemoPasswordPolicy = cognitoapi.DefaultPasswordPolicy

// User is a seeded user, confirmed, with a permanent password.
type User struct {
	Username string
	Password string
	Email    string
	Phone    string // where the SMS codes would go
	Sub      string
	Groups   []string
	SMSMFA   bool
	// TenantID is the user's envoyconf.TenantClaim custom attribute, which the pool declares
	// and cognito-local puts in ID tokens, as Cognito does.
	TenantID string
}

// The seeded users. Their passwords meet DemoPasswordPolicy.
func seedUsers() (admin, user User) {
	admin = User{Username: "alice", Password: "Alice-passw0rd", Email: "alice@example.com",
		Phone: "+15555550100", Groups: []string{AdminGroup}, SMSMFA: true, TenantID: "acme"}
	user = User{Username: "bob", Password: "Bob-passw0rd", Email: "bob@example.com", Phone: "+15555550101",
		TenantID: "globex"}
	return admin, user
}

// seed creates the pool, client, group and users through the API and signs the users in, then
// gives the admin SMS MFA in the data file, which needs a restart (see the package comment). The
// sign-ins come before the admin has MFA, so they send no code that a person could take for
// their own.
func (e *Emulator) seed(ctx context.Context, tokenTTL time.Duration) error {
	var pool struct{ UserPool struct{ Id string } }
	if err := e.Call(ctx, "CreateUserPool", map[string]any{
		"PoolName":               "cognito-authz-demo",
		"MfaConfiguration":       "OPTIONAL",
		"AutoVerifiedAttributes": []string{"email"},
		"SmsConfiguration":       map[string]any{"SnsCallerArn": "arn:aws:iam::000000000000:role/cognito-sms"},
		"Policies":               map[string]any{"PasswordPolicy": DemoPasswordPolicy},
		// Custom attributes are declared without their custom: prefix, which Cognito adds.
		"Schema": []map[string]any{{"Name": strings.TrimPrefix(envoyconf.TenantClaim, "custom:"),
			"AttributeDataType": "String", "Mutable": true}},
	}, &pool); err != nil {
		return err
	}
	p := Pool{ID: pool.UserPool.Id, PasswordPolicy: DemoPasswordPolicy}
	if p.ID == "" {
		return errors.New("CreateUserPool answered no pool id")
	}
	p.Region, _, _ = strings.Cut(p.ID, "_")
	p.Issuer = e.opts.IssuerDomain + "/" + p.ID
	p.JWKSURL = p.Issuer + "/.well-known/jwks.json"

	clientReq := map[string]any{
		"UserPoolId": p.ID, "ClientName": "web",
		"ExplicitAuthFlows": []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
	}
	if tokenTTL > 0 {
		secs := max(int(tokenTTL/time.Second), 1)
		clientReq["AccessTokenValidity"], clientReq["IdTokenValidity"] = secs, secs
		clientReq["TokenValidityUnits"] = map[string]string{"AccessToken": "seconds", "IdToken": "seconds"}
	}
	var client struct{ UserPoolClient struct{ ClientId string } }
	if err := e.Call(ctx, "CreateUserPoolClient", clientReq, &client); err != nil {
		return err
	}
	if p.ClientID = client.UserPoolClient.ClientId; p.ClientID == "" {
		return errors.New("CreateUserPoolClient answered no client id")
	}
	if err := e.Call(ctx, "CreateGroup", map[string]any{"UserPoolId": p.ID, "GroupName": AdminGroup}, nil); err != nil {
		return err
	}
	p.Admin, p.User = seedUsers()
	for _, u := range []*User{&p.Admin, &p.User} {
		if err := e.createUser(ctx, p.ID, u); err != nil {
			return err
		}
	}
	e.Pool = p
	e.seededTokens = map[string]Tokens{}
	for _, u := range []User{p.Admin, p.User} {
		tok, err := e.SignIn(ctx, u)
		if err != nil {
			return fmt.Errorf("sign %s in: %w", u.Username, err)
		}
		e.seededTokens[u.Username] = tok
	}

	e.stopProcess()
	if err := e.useFixedIDs(&p); err != nil {
		return err
	}
	if err := e.enableSMSMFA(p.ID, p.Admin.Username); err != nil {
		return err
	}
	if err := e.start(ctx); err != nil {
		return fmt.Errorf("restart after seeding: %w", err)
	}
	return nil
}

// SeededTokens are the tokens of u's sign-in while the pool was seeded, before the admin had SMS
// MFA: no code was sent for them. The emulator signs with one fixed key, so they stay valid
// across its restart, for the client's token lifetime (Options.AccessTokenTTL).
func (e *Emulator) SeededTokens(u User) (Tokens, bool) {
	tok, ok := e.seededTokens[u.Username]
	return tok, ok
}

// createUser creates u confirmed, with its permanent password and groups, and sets u.Sub.
func (e *Emulator) createUser(ctx context.Context, poolID string, u *User) error {
	sub, err := e.api.CreateUser(ctx, poolID, cognitoapi.User{
		Username: u.Username, Password: u.Password, Groups: u.Groups,
		Attributes: []cognitoapi.Attribute{
			{Name: "email", Value: u.Email}, {Name: "email_verified", Value: "true"},
			{Name: "phone_number", Value: u.Phone}, {Name: "phone_number_verified", Value: "true"},
			{Name: envoyconf.TenantClaim, Value: u.TenantID},
		},
	})
	u.Sub = sub
	return err
}

// enableSMSMFA adds an SMS MFAOptions entry to username's record in the stopped emulator's data
// file, .cognito/db/<pool id>.json, the one thing its API cannot do.
func (e *Emulator) enableSMSMFA(poolID, username string) error {
	path := filepath.Join(e.dir, ".cognito", "db", poolID+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var db map[string]json.RawMessage
	if err := json.Unmarshal(raw, &db); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var users map[string]map[string]any
	if err := json.Unmarshal(db["Users"], &users); err != nil {
		return fmt.Errorf("%s: Users: %w", path, err)
	}
	u, ok := users[username]
	if !ok {
		return fmt.Errorf("%s: no user %s", path, strconv.Quote(username))
	}
	u["MFAOptions"] = []map[string]string{{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}}
	if db["Users"], err = json.Marshal(users); err != nil {
		return err
	}
	out, err := json.MarshalIndent(db, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// Tokens are the tokens of one sign-in.
type Tokens struct {
	AccessToken, IdToken, RefreshToken string
}

// SignIn signs u in with USER_PASSWORD_AUTH, as a web app using the Cognito API does, answering
// the SMS code from the outbox when asked for one.
func (e *Emulator) SignIn(ctx context.Context, u User) (Tokens, error) {
	var out struct {
		ChallengeName        string
		AuthenticationResult Tokens
	}
	from := e.Outbox.Len()
	if err := e.Call(ctx, "InitiateAuth", map[string]any{
		"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": e.Pool.ClientID,
		"AuthParameters": map[string]string{"USERNAME": u.Username, "PASSWORD": u.Password},
	}, &out); err != nil {
		return Tokens{}, err
	}
	if out.ChallengeName == "SMS_MFA" {
		code, err := e.Outbox.Await(ctx, from, u.Username, PurposeSMSMFA, codeTimeout)
		if err != nil {
			return Tokens{}, fmt.Errorf("no SMS code for %s in the outbox: %w", u.Username, err)
		}
		if err := e.Call(ctx, "RespondToAuthChallenge", map[string]any{
			// cognito-local's challenge has no Session but its answer needs one.
			"ClientId": e.Pool.ClientID, "ChallengeName": "SMS_MFA", "Session": "cognito-local",
			"ChallengeResponses": map[string]string{"USERNAME": u.Username, "SMS_MFA_CODE": code},
		}, &out); err != nil {
			return Tokens{}, err
		}
	}
	if out.AuthenticationResult.AccessToken == "" || out.AuthenticationResult.IdToken == "" {
		return Tokens{}, fmt.Errorf("%s signed in without access and ID tokens", u.Username)
	}
	return out.AuthenticationResult, nil
}

// codeTimeout bounds the wait for a code the emulator logs while answering the call that sent it.
const codeTimeout = 10 * time.Second
