package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the required argon2id cost", h)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsE", false}, {"", false}} {
		t.Run(tc.pw, func(t *testing.T) {
			ok, err := Verify(tc.pw, h)
			if err != nil || ok != tc.want {
				t.Fatalf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
			}
		})
	}
	if _, err := Verify("x", "$2y$10$bcrypt"); err == nil {
		t.Fatal("a bcrypt hash was accepted")
	}
	if _, err := Verify("x", "$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA"); err == nil {
		t.Fatal("an absurd memory cost was accepted")
	}
}

func TestGenerate(t *testing.T) {
	a, _ := Generate(20)
	b, _ := Generate(20)
	if len(a) != 20 || a == b {
		t.Fatalf("Generate gave %q and %q", a, b)
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := HashWith("pw", Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	f.Add("pw", h)
	f.Add("x", "$argon2id$v=19$m=8192,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, pw, enc string) {
		_, _ = Verify(pw, enc) // must not panic
	})
}
