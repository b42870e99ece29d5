package authz

import (
	"encoding/json"

	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Responses Check hands out are shared between calls where they do not depend on the token
// (every anonymous, skipped and denied answer) and always share their static parts. gRPC only
// reads them (protobuf's size cache is atomic); nobody may modify a returned response.

// Dynamic metadata keys (docs/reference.md#dynamic-metadata).
const (
	MetaAuthStatus = "auth_status"
	MetaSub        = "sub"
	MetaUsername   = "username"
	MetaGroups     = "groups" // comma-joined, like the header
	MetaClientID   = "client_id"
	MetaTokenUse   = "token_use"
	MetaReason     = "reason"
)

// Body "reason" values of the service's own failures; they are not token reason codes, so the
// Recorder gets an empty reason for them.
const (
	BodyReasonInternal  = "internal"
	bodyReasonCancelled = "cancelled"
)

const realm = `Bearer realm="cognito-authz"`

var (
	statusOK               = &rpcstatus.Status{Code: int32(codes.OK)}
	authenticatedStatusOpt = setHeader(HeaderAuthStatus, string(policy.Authenticated))
	authenticatedMetaValue = structpb.NewStringValue(string(policy.Authenticated))
)

func setHeader(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// cannedResponses are the answers that do not depend on the token's claims, built once.
type cannedResponses struct {
	byDecision map[policy.Decision]*Answer
	internal   *Answer // a panic
	cancelled  *Answer // the caller's context ended
	names      *headerNames
}

func newCannedResponses(names *headerNames) cannedResponses {
	c := cannedResponses{byDecision: map[policy.Decision]*Answer{}, names: names}
	for _, d := range policy.Outcomes() {
		c.byDecision[d] = names.withMetadata(c.build(d))
	}
	c.internal = names.withMetadata(denied(typev3.StatusCode_ServiceUnavailable, codes.Unavailable, "", string(policy.Unavailable), BodyReasonInternal))
	c.cancelled = names.withMetadata(denied(typev3.StatusCode_ServiceUnavailable, codes.Unavailable, "", string(policy.Unavailable), bodyReasonCancelled))
	return c
}

// withMetadata is the gate of dynamic metadata (Options.DynamicMetadata) for a canned answer,
// built with its metadata and not yet shared: off, the metadata goes.
func (n *headerNames) withMetadata(a *Answer) *Answer {
	if !n.dynamicMetadata {
		a.Response().DynamicMetadata = nil
	}
	return a
}

// forDecision returns the answer for any decision but Authenticated.
func (c *cannedResponses) forDecision(d policy.Decision) *Answer {
	if r, ok := c.byDecision[d]; ok {
		return r
	}
	return c.names.withMetadata(c.build(d)) // a reason the verifier should not give; still a defined answer
}

func (c *cannedResponses) build(d policy.Decision) *Answer {
	why := string(d.Reason)
	switch d.Result {
	case policy.Skipped:
		return ok(nil, c.names.skippedRemove, meta(MetaAuthStatus, string(policy.Skipped)))
	case policy.Anonymous:
		return ok([]*corev3.HeaderValueOption{
			setHeader(HeaderAuthStatus, string(policy.Anonymous)),
			setHeader(HeaderAuthReason, why),
		}, c.names.anonymousRemove, meta(MetaAuthStatus, string(policy.Anonymous), MetaReason, why))
	case policy.Unauthenticated:
		challenge := realm
		if d.Reason != reason.Missing {
			challenge += `, error="invalid_token", error_description="` + why + `"`
		}
		return denied(typev3.StatusCode_Unauthorized, codes.Unauthenticated, challenge, string(d.Result), why)
	case policy.Forbidden:
		challenge := realm + `, error="insufficient_scope", error_description="` + why + `"`
		return denied(typev3.StatusCode_Forbidden, codes.PermissionDenied, challenge, string(d.Result), why)
	case policy.Unavailable:
		return denied(typev3.StatusCode_ServiceUnavailable, codes.Unavailable, "", string(d.Result), why)
	}
	// Authenticated never reaches here and no other result exists: fail closed all the same.
	return c.internal
}

func ok(set []*corev3.HeaderValueOption, remove []string, md *structpb.Struct) *Answer {
	return newAnswer(&authv3.CheckResponse{
		Status: statusOK,
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         set,
			HeadersToRemove: remove,
		}},
		DynamicMetadata: md,
	})
}

// denied builds a denial; challenge is the WWW-Authenticate value, or empty for none.
func denied(status typev3.StatusCode, code codes.Code, challenge, errorText, why string) *Answer {
	headers := []*corev3.HeaderValueOption{setHeader("content-type", "application/json")}
	if challenge != "" {
		headers = append(headers, setHeader("www-authenticate", challenge))
	}
	md := meta(MetaAuthStatus, errorText, MetaReason, why)
	return newAnswer(&authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: errorText + ": " + why},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: status},
			Headers: headers,
			Body:    DenialBody(errorText, why),
		}},
		DynamicMetadata: md,
	})
}

// DenialBody is the body of every denial (docs/reference.md#denials), over gRPC and HTTP alike:
// {"error":"<errorText>","reason":"<why>"}.
func DenialBody(errorText, why string) string {
	body, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}{errorText, why}) // two strings cannot fail to marshal
	return string(body)
}

// meta builds a Struct of string fields from key, value pairs.
func meta(kv ...string) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = structpb.NewStringValue(kv[i+1])
	}
	return &structpb.Struct{Fields: fields}
}

// authenticatedResponse holds every message of one authenticated answer, so that it costs one
// allocation instead of dozens.
type authenticatedResponse struct {
	resp    authv3.CheckResponse
	ok      authv3.CheckResponse_OkResponse
	http    authv3.OkHttpResponse
	opts    [slotCount]corev3.HeaderValueOption
	values  [slotCount]corev3.HeaderValue
	headers [slotCount + 1]*corev3.HeaderValueOption
	md      structpb.Struct
	mdVals  [5]structpb.Value
	mdKinds [5]structpb.Value_StringValue
}

// authenticated builds the answer for verified claims: identity headers that have a value are
// set, every other owned header removed.
func (n *headerNames) authenticated(c *verifier.Claims) *authv3.CheckResponse {
	var values [slotCount]string
	values[slotSub] = c.Subject
	values[slotName] = c.Username
	values[slotEmail] = c.Email
	values[slotGroups] = httptext.JoinList(c.Groups, ",")
	values[slotScopes] = httptext.JoinList(c.Scopes, " ")
	values[slotClientID] = c.ClientID
	values[slotTokenUse] = string(c.TokenUse)
	if n.slots[slotClaims] != "" {
		values[slotClaims] = c.PayloadSegment
	}

	r := new(authenticatedResponse)
	headers := r.headers[:0]
	mask := 0
	for i, v := range values {
		if v == "" || n.slots[i] == "" {
			continue
		}
		r.values[i] = corev3.HeaderValue{Key: n.slots[i], Value: v}
		r.opts[i].Header = &r.values[i]
		r.opts[i].AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		headers = append(headers, &r.opts[i])
		mask |= 1 << i
	}
	remove := n.authenticatedRemove[mask]
	var fields map[string]*structpb.Value // nil: no dynamic metadata (Options.DynamicMetadata)
	if n.dynamicMetadata {
		fields = make(map[string]*structpb.Value, 7)
	}
	if len(n.claimHeaders) > 0 {
		headers, remove = n.addClaims(c, slices.Clip(headers), fields, remove)
	}
	headers = append(headers, authenticatedStatusOpt)

	r.http.Headers = headers
	r.http.HeadersToRemove = remove
	r.ok.OkResponse = &r.http
	r.resp.Status = statusOK
	r.resp.HttpResponse = &r.ok
	if fields != nil {
		r.setMetadata(&values, fields)
	}
	return &r.resp
}

// setMetadata sets the dynamic metadata of an authenticated answer: its identity values, beside
// what fields already holds (the chosen claims).
func (r *authenticatedResponse) setMetadata(values *[slotCount]string, fields map[string]*structpb.Value) {
	fields[MetaAuthStatus] = authenticatedMetaValue
	for i, kv := range [5][2]string{
		{MetaSub, values[slotSub]},
		{MetaUsername, values[slotName]},
		{MetaGroups, values[slotGroups]},
		{MetaClientID, values[slotClientID]},
		{MetaTokenUse, values[slotTokenUse]},
	} {
		r.mdKinds[i].StringValue = kv[1]
		r.mdVals[i].Kind = &r.mdKinds[i]
		fields[kv[0]] = &r.mdVals[i]
	}
	r.md.Fields = fields
	r.resp.DynamicMetadata = &r.md
}
