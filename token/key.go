package token

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/go-jose/go-jose/v4"
)

// algorithms are the signature algorithms a key may have.
var algorithms = map[string]jose.SignatureAlgorithm{
	string(jose.ES256): jose.ES256,
	string(jose.EdDSA): jose.EdDSA,
	string(jose.RS256): jose.RS256,
}

const (
	// rsaBits is the size of new RSA keys; stored RSA keys must be at
	// least this large.
	rsaBits = 2048
	// encryptionKeySize is the size of Config.EncryptionKey (AES-256).
	encryptionKeySize = 32
	// sealVersion is the first byte of an encrypted private key:
	// version || nonce (12 bytes) || AES-256-GCM ciphertext and tag, with
	// the key id as additional data.
	sealVersion = 1
)

// newKey generates a key of Config.Algorithm with a random id, its public
// half as a JWK and its private half as PKCS #8 encrypted under
// Config.EncryptionKey.
func (k *Keyring) newKey() (*foyer.SigningKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch algorithms[k.cfg.Algorithm] {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		err = fmt.Errorf("unsupported algorithm %q", k.cfg.Algorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}

	id := randomID()
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: k.cfg.Algorithm, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: encode private key: %w", err)
	}
	defer clear(der)
	sealed, err := seal(k.cfg.EncryptionKey, id, der)
	if err != nil {
		return nil, err
	}
	return &foyer.SigningKey{ID: id, Algorithm: k.cfg.Algorithm, PrivateKey: sealed, PublicKey: pub}, nil
}

// parsePublicKey checks a stored key's public JWK against its id and
// algorithm and returns it ready to verify. A retired key verifies until
// maxTTL after its retirement.
func parsePublicKey(sk *foyer.SigningKey, maxTTL time.Duration) (*verifyKey, error) {
	alg, ok := algorithms[sk.Algorithm]
	if !ok {
		return nil, fmt.Errorf("token: signing key %q has unsupported algorithm %q", sk.ID, sk.Algorithm)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(sk.PublicKey); err != nil {
		return nil, fmt.Errorf("token: signing key %q: decode public key: %w", sk.ID, err)
	}
	if !jwk.IsPublic() || jwk.KeyID != sk.ID || jwk.Algorithm != sk.Algorithm {
		return nil, fmt.Errorf("token: signing key %q: public key is not a public %s JWK with this key id", sk.ID, sk.Algorithm)
	}
	if err := checkKeyType(alg, jwk.Key); err != nil {
		return nil, fmt.Errorf("token: signing key %q: %w", sk.ID, err)
	}
	jwk.Use = "sig"
	encoded, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: signing key %q: encode public key: %w", sk.ID, err)
	}
	key := &verifyKey{
		info:   KeyInfo{ID: sk.ID, Algorithm: sk.Algorithm, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt},
		alg:    alg,
		algs:   []jose.SignatureAlgorithm{alg},
		public: jwk.Key,
		jwk:    encoded,
	}
	if sk.RetiredAt != nil {
		t := *sk.RetiredAt
		key.info.RetiredAt = &t
		key.until = t.Add(maxTTL)
	}
	return key, nil
}

// checkKeyType reports whether pub is a key that alg may use.
func checkKeyType(alg jose.SignatureAlgorithm, pub crypto.PublicKey) error {
	switch alg {
	case jose.ES256:
		if p, ok := pub.(*ecdsa.PublicKey); ok && p.Curve == elliptic.P256() {
			return nil
		}
	case jose.EdDSA:
		if _, ok := pub.(ed25519.PublicKey); ok {
			return nil
		}
	case jose.RS256:
		if p, ok := pub.(*rsa.PublicKey); ok {
			if p.N.BitLen() < rsaBits {
				return fmt.Errorf("RSA key has %d bits, fewer than %d", p.N.BitLen(), rsaBits)
			}
			return nil
		}
	}
	return fmt.Errorf("public key of type %T does not fit algorithm %s", pub, alg)
}

// openSigner decrypts sk's private key, checks that it is the private half
// of key, and returns a signer that writes alg, kid and typ "JWT".
func (k *Keyring) openSigner(sk *foyer.SigningKey, key *verifyKey) (jose.Signer, crypto.Signer, error) {
	der, err := open(k.cfg.EncryptionKey, sk.ID, sk.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("token: cannot decrypt the private key of signing key %q: the encryption key is wrong or the stored key is damaged: %w", sk.ID, err)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("token: signing key %q: decode private key: %w", sk.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("token: signing key %q: private key of type %T cannot sign", sk.ID, parsed)
	}
	if pub, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.public) {
		return nil, nil, fmt.Errorf("token: signing key %q: private key does not match its public key", sk.ID)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: key.alg, Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("token: signing key %q: %w", sk.ID, err)
	}
	return signer, priv, nil
}

// seal encrypts plaintext with AES-256-GCM under key, binding it to kid so
// that an encrypted key cannot be moved to another key's row.
func seal(key []byte, kid string, plaintext []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal([]byte{sealVersion}, nil, plaintext, []byte(kid)), nil
}

// open reverses seal.
func open(key []byte, kid string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 || sealed[0] != sealVersion {
		return nil, errors.New("unknown encryption format")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nil, sealed[1:], []byte(kid))
}

// newAEAD returns AES-256-GCM with a random nonce prepended to each
// ciphertext.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token: encryption key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("token: encryption key: %w", err)
	}
	return aead, nil
}
