package authz

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Revocations are the online revocation checks of one configuration (issuers[].revocation), one
// checker per issuer that may be checked, found by the issuer URL a verified token carries.
// A nil *Revocations checks nothing.
type Revocations struct {
	byIssuer map[string]*issuerRevocation // every accepted issuer URL (Claims.Issuer)
	checkers map[string]*revocation.Checker
}

type issuerRevocation struct {
	cfg     revocation.Config
	checker *revocation.Checker
}

// RevocationOptions are the settings of NewRevocations beyond the issuers.
type RevocationOptions struct {
	// RuleChecks: some rule says revocation: check, so issuers whose mode is off get a checker too.
	RuleChecks bool
	Observer   revocation.Observer
	Logger     *zap.Logger
	HTTPClient *http.Client
	// Previous, when set, is the configuration's this one replaces: each issuer's checker keeps
	// what it learnt (revocation.Options.Previous).
	Previous *Revocations
}

// NewRevocations builds the checkers of issuers (each valid, revocation included), or nil when
// no route can ask for a check.
func NewRevocations(issuers []verifier.IssuerConfig, o RevocationOptions) (*Revocations, error) {
	r := &Revocations{byIssuer: map[string]*issuerRevocation{}, checkers: map[string]*revocation.Checker{}}
	for _, is := range issuers {
		cfg := is.Revocation.WithDefaults()
		if cfg.Mode != revocation.ModeOnline && !o.RuleChecks {
			continue
		}
		urls := verifier.IssuerURLs(is)
		opts := revocation.Options{Issuer: urls[0], HTTPClient: o.HTTPClient, Observer: o.Observer, Logger: o.Logger}
		if o.Previous != nil {
			opts.Previous = o.Previous.checkers[urls[0]]
		}
		c, err := revocation.New(cfg, opts)
		if err != nil {
			return nil, err
		}
		r.checkers[urls[0]] = c
		for _, u := range urls {
			r.byIssuer[u] = &issuerRevocation{cfg: cfg, checker: c}
		}
	}
	if len(r.checkers) == 0 {
		return nil, nil
	}
	return r, nil
}

// refusal returns why a verified token must be refused after asking Cognito whether it is still
// live, or "" to let it through: when the route's rule and the token's issuer want no check, or
// the check let it pass (live, not checkable, or unavailable with on_unavailable: accept). memo
// is the token's room in the verifier's cache (verifier.Slot.RevocationMemo), nil when it has none.
func (r *Revocations) refusal(ctx context.Context, rule revocation.RuleSetting, token string, claims *verifier.Claims, memo *revocation.Memo) reason.Code {
	if r == nil || rule == revocation.RuleSkip {
		return ""
	}
	ir, ok := r.byIssuer[claims.Issuer]
	if !ok || !ir.cfg.Wanted(rule) {
		return ""
	}
	v := ir.checker.Check(ctx, revocation.Token{
		Raw:       token,
		Use:       string(claims.TokenUse),
		OriginJTI: claims.OriginJTI,
		ExpiresAt: claims.ExpiresAt,
		HasUser:   claims.Username != "",
		Memo:      memo,
	})
	if !v.Refuse {
		return ""
	}
	switch v.Result {
	case revocation.Expired:
		return reason.Expired
	case revocation.Unavailable:
		return reason.RevocationUnavailable
	}
	return reason.Revoked
}
