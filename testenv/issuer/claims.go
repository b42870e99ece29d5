package issuer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// UnverifiedClaims decodes the payload of a compact JWS without checking its signature or any
// claim, so that a test can compare a token (this issuer's or another Cognito stand-in's) with
// what it asked for. It proves nothing about the token: never use it to trust one.
func UnverifiedClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("issuer: token has %d segments, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("issuer: payload is not unpadded base64url: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("issuer: payload is not a JSON object")
	}
	return claims, nil
}
