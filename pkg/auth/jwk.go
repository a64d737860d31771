package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
)

// JWK is a verification key as a JSON Web Key (RFC 7517, RFC 8037): the
// fields of todo.user.v1.PublicKey, which GetPublicKeys publishes.
type JWK struct {
	Kid, Kty, Crv, X, Alg, Use string
}

// JWK returns k as a JWK: kty OKP, crv Ed25519, x the unpadded base64url
// key, alg EdDSA, use sig.
func (k PublicKey) JWK() JWK {
	return JWK{
		Kid: k.KeyID,
		Kty: jwkKty,
		Crv: jwkCrv,
		X:   base64.RawURLEncoding.EncodeToString(k.Key),
		Alg: jwkAlg,
		Use: jwkUse,
	}
}

// ParseJWK parses a JWK as [PublicKey.JWK] writes it. It refuses any other
// key type, curve or algorithm, a use other than sig (empty is allowed), a
// missing kid and a key that is not 32 bytes.
func ParseJWK(j JWK) (PublicKey, error) {
	switch {
	case j.Kid == "":
		return PublicKey{}, errors.New("auth: JWK without kid")
	case j.Kty != jwkKty || j.Crv != jwkCrv:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: kty %q crv %q, want %s %s", j.Kid, j.Kty, j.Crv, jwkKty, jwkCrv)
	case j.Alg != "" && j.Alg != jwkAlg:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: alg %q, want %s", j.Kid, j.Alg, jwkAlg)
	case j.Use != "" && j.Use != jwkUse:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: use %q, want %s", j.Kid, j.Use, jwkUse)
	}
	x, err := base64.RawURLEncoding.DecodeString(j.X)
	if err != nil {
		return PublicKey{}, fmt.Errorf("auth: JWK %s: x: %w", j.Kid, err)
	}
	if len(x) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("auth: JWK %s: x is %d bytes, want %d", j.Kid, len(x), ed25519.PublicKeySize)
	}
	return PublicKey{KeyID: j.Kid, Key: ed25519.PublicKey(x)}, nil
}
