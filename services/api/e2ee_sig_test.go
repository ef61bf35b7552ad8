package api

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodeSigE2EEKey(t *testing.T) {
	for _, c := range []struct {
		name, in, err string
	}{
		{"to recipient", `{"type":"e2ee_key","data":{"to":"b","key":"AQID"}}`, ""},
		{"from sender", `{"type":"e2ee_key","data":{"from":"a","key":"AQID"}}`, ""},
		{"no key", `{"type":"e2ee_key","data":{"to":"b"}}`, "missing key"},
		{"nobody named", `{"type":"e2ee_key","data":{"key":"AQID"}}`, "neither"},
		{"key too long", `{"type":"e2ee_key","data":{"to":"b","key":"` + strings.Repeat("A", 400) + `"}}`, "exceeds"},
		{"unknown field", `{"type":"e2ee_key","data":{"to":"b","key":"AQID","x":1}}`, "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := DecodeSig([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			v, err := DecodeSigE2EEKey(m)
			if c.err == "" {
				if err != nil || !bytes.Equal(v.Key, []byte{1, 2, 3}) {
					t.Fatalf("= %+v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
}

func FuzzDecodeSigE2EEKey(f *testing.F) {
	f.Add([]byte(`{"type":"e2ee_key","data":{"to":"b","key":"AQID"}}`))
	f.Add([]byte(`{"type":"e2ee_key","data":{"from":"a","to":"b","key":""}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSig(b)
		if err != nil {
			return
		}
		v, err := DecodeSigE2EEKey(m)
		if err != nil {
			return
		}
		if len(v.Key) == 0 || len(v.Key) > MaxE2EEKey || (v.To == "" && v.From == "") {
			t.Fatalf("accepted %+v", v)
		}
	})
}
