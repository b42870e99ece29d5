package cognitolocal

import (
	"bytes"
	"os"
	"path/filepath"
)

// DemoUsers are the users Start seeds (see Pool), passwords included: for a client of the
// emulator running elsewhere, such as the compose stack's token helper.
func DemoUsers() (admin, user User) { return seedUsers() }

// useFixedIDs gives the seeded pool and client the ids of Options.PoolID and Options.ClientID
// in the stopped emulator's data files: the pool's file is renamed, and every mention of the drawn
// ids (the pool's options, the client's record and its key) is replaced. Drawn ids are random
// strings of 8 and 26 characters, so a textual replacement touches nothing else. e.Pool becomes p,
// and SeededTokens has none.
func (e *Emulator) useFixedIDs(p *Pool) error {
	db := filepath.Join(e.dir, ".cognito", "db")
	replace := func(path string, pairs ...string) error {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				raw = bytes.ReplaceAll(raw, []byte(`"`+pairs[i]+`"`), []byte(`"`+pairs[i+1]+`"`))
				raw = bytes.ReplaceAll(raw, []byte("/"+pairs[i]+`"`), []byte("/"+pairs[i+1]+`"`)) // the pool's ARN
			}
		}
		return os.WriteFile(path, raw, 0o644)
	}
	if e.opts.PoolID == "" && e.opts.ClientID == "" {
		return nil
	}
	if err := replace(filepath.Join(db, "clients.json"), p.ID, e.opts.PoolID, p.ClientID, e.opts.ClientID); err != nil {
		return err
	}
	poolFile := filepath.Join(db, p.ID+".json")
	if err := replace(poolFile, p.ID, e.opts.PoolID); err != nil {
		return err
	}
	if e.opts.PoolID != "" {
		if err := os.Rename(poolFile, filepath.Join(db, e.opts.PoolID+".json")); err != nil {
			return err
		}
		p.ID = e.opts.PoolID
		p.Issuer = e.opts.IssuerDomain + "/" + p.ID
		p.JWKSURL = p.Issuer + "/.well-known/jwks.json"
	}
	if e.opts.ClientID != "" {
		p.ClientID = e.opts.ClientID
	}
	e.Pool = *p
	// The seeding's sign-ins name the drawn ids, which no longer exist.
	e.seededTokens = nil
	return nil
}
