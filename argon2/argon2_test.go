package argon2_test

import (
	"strings"
	"testing"

	"github.com/foyerhq/foyer/argon2"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = argon2.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		h, err := argon2.HashWith("correct horse battery staple", cheap)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("hash=%q, want PHC argon2id prefix", h)
		}
		ok, err := argon2.Verify("correct horse battery staple", h)
		if err != nil || !ok {
			t.Fatalf("Verify=%v,%v, want true,nil", ok, err)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		h, _ := argon2.HashWith("password-one", cheap)
		ok, err := argon2.Verify("password-two", h)
		if err != nil || ok {
			t.Fatalf("Verify=%v,%v, want false,nil", ok, err)
		}
	})
	t.Run("SaltedDifferently", func(t *testing.T) {
		a, _ := argon2.HashWith("same", cheap)
		b, _ := argon2.HashWith("same", cheap)
		if a == b {
			t.Fatal("two hashes of one password are equal; salt not random")
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, h := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
			if _, err := argon2.Verify("x", h); err != argon2.ErrMalformedHash {
				t.Errorf("Verify(%q) err=%v, want ErrMalformedHash", h, err)
			}
		}
	})
}

// FuzzVerify checks that Verify never panics on stored values and never
// accepts a password for a value it did not produce for that password.
func FuzzVerify(f *testing.F) {
	good, _ := argon2.HashWith("seed-password", cheap)
	f.Add("seed-password", good)
	f.Add("x", "$argon2id$v=19$m=1024,t=1,p=1$$")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		ok, err := argon2.Verify(pw, encoded)
		if err != nil && ok {
			t.Fatal("ok with error")
		}
		if ok && encoded == good && pw != "seed-password" {
			t.Fatalf("accepted wrong password %q", pw)
		}
	})
}

func BenchmarkHashDefault(b *testing.B) {
	for b.Loop() {
		if _, err := argon2.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
