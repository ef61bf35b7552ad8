package config

import (
	"strings"
	"testing"
)

func TestManagerLicenceKey(t *testing.T) {
	key := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" // 32 bytes
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"none", `{}`, ""},
		{"valid key", `{"manager": {"licence_key": "` + key + `"}}`, ""},
		{"not base64", `{"manager": {"licence_key": "***"}}`, "manager.licence_key is not base64"},
		{"wrong length", `{"manager": {"licence_key": "YWJj"}}`, "manager.licence_key is 3 bytes"},
		{"on a router", `{"router": {"licence_key": "` + key + `"}}`, "router.licence_key is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			err := Decode(strings.NewReader(tc.in), &c)
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
