package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// MetaClaims is the dynamic metadata key of the chosen claims (identity_headers.claims): a struct
// of each one's value keyed by its configured header, e.g. claims.tenant-id.
const MetaClaims = "claims"

// addClaimHeaders checks identity_headers.claims and keeps the header names under prefix; every
// broken entry is reported, naming its key (max_claim_bytes is the verifier's to check). What the full names may not clash with is checked
// with the other owned headers.
func (n *headerNames) addClaimHeaders(cfg HeaderConfig, prefix string) error {
	var errs []error
	for i, ch := range cfg.Claims {
		key := fmt.Sprintf("identity_headers.claims[%d]", i)
		if ch.Claim == "" {
			errs = append(errs, fmt.Errorf("%s.claim: required (the claim's name in the token, e.g. custom:tenant_id)", key))
		}
		switch first := slices.IndexFunc(cfg.Claims[:i], func(o ClaimHeader) bool { return o.Header == ch.Header }); {
		case !claimHeaderSuffix(ch.Header):
			errs = append(errs, fmt.Errorf("%s.header: %q must be one or more of a-z, 0-9 and - (it is set as %s<header>)", key, ch.Header, prefix))
		case slices.Contains(identitySuffixes[:], ch.Header):
			errs = append(errs, fmt.Errorf("%s.header: %q is the built-in identity header %s%s", key, ch.Header, prefix, ch.Header))
		case first >= 0:
			errs = append(errs, fmt.Errorf("%s.header: %q is already identity_headers.claims[%d].header", key, ch.Header, first))
		}
		n.claimHeaders = append(n.claimHeaders, prefix+ch.Header)
		n.metaClaims = append(n.metaClaims, ch.Header)
	}
	return errors.Join(errs...)
}

func claimHeaderSuffix(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// addClaims adds to an authenticated answer the claim headers that have a value, and the
// metadata of each, and returns the headers to remove: remove plus the claim headers without one.
func (n *headerNames) addClaims(c *verifier.Claims, headers []*corev3.HeaderValueOption, fields map[string]*structpb.Value, remove []string) ([]*corev3.HeaderValueOption, []string) {
	opts := make([]corev3.HeaderValueOption, len(n.claimHeaders))
	values := make([]corev3.HeaderValue, len(n.claimHeaders))
	metaFields := make(map[string]*structpb.Value, len(n.claimHeaders))
	missing := false
	for i, name := range n.claimHeaders {
		var text string
		if i < len(c.HeaderClaims) {
			text = c.HeaderClaims[i]
		}
		if text == "" {
			if !missing {
				remove = slices.Clip(remove)
				missing = true
			}
			remove = append(remove, name)
			continue
		}
		values[i] = corev3.HeaderValue{Key: name, Value: text}
		opts[i] = corev3.HeaderValueOption{Header: &values[i], AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
		headers = append(headers, &opts[i])
		if fields != nil {
			metaFields[n.metaClaims[i]] = structpb.NewStringValue(text)
		}
	}
	if fields != nil { // nil: no dynamic metadata (Options.DynamicMetadata)
		fields[MetaClaims] = structpb.NewStructValue(&structpb.Struct{Fields: metaFields})
	}
	return headers, remove
}

// HeadersFor returns the request headers an authenticated answer for c sets under cfg (what
// `cognito-authz verify` prints): the identity headers with a value, the chosen claims' headers,
// the claims header and x-auth-status.
func HeadersFor(cfg HeaderConfig, tokenHeaders []string, c *verifier.Claims) (map[string]string, error) {
	n, err := newHeaderNames(cfg, tokenHeaders)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, opt := range n.authenticated(c).GetOkResponse().GetHeaders() {
		out[opt.GetHeader().GetKey()] = opt.GetHeader().GetValue()
	}
	return out, nil
}
