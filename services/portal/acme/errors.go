package acme

import (
	"errors"
	"fmt"
	"strings"

	xacme "golang.org/x/crypto/acme"
)

// Sentinel errors let callers (the Security page) tell the failure classes apart with errors.Is;
// the wrapped text carries the CA's own problem detail.
var (
	// ErrConfig means the ACME configuration itself is unusable (missing FQDN, bad challenge).
	ErrConfig = errors.New("invalid ACME configuration")
	// ErrDirectoryUnreachable means the directory URL could not be fetched or is not an ACME
	// directory (RFC 8555 section 7.1.1).
	ErrDirectoryUnreachable = errors.New("ACME directory unreachable")
	// ErrAccountRefused means the CA refused to create or look up the account (section 7.3).
	ErrAccountRefused = errors.New("ACME account registration refused")
	// ErrChallengeFailed means the CA could not validate control of the FQDN (section 7.5.1).
	ErrChallengeFailed = errors.New("ACME challenge failed")
	// ErrOrderInvalid means the order could not be created, became invalid, or the issued
	// certificate was not the one asked for (section 7.4).
	ErrOrderInvalid = errors.New("ACME order invalid")
	// ErrAccountKey means the stored account key could not be read or parsed.
	ErrAccountKey = errors.New("ACME account key unusable")
)

// problemDetail renders the most useful text of an ACME error: the problem type's last
// component and the CA's detail, without the Go plumbing around it.
func problemDetail(err error) string {
	if err == nil {
		return ""
	}
	var ae *xacme.Error
	if errors.As(err, &ae) {
		typ := ae.ProblemType
		if i := strings.LastIndex(typ, ":"); i >= 0 {
			typ = typ[i+1:]
		}
		s := ae.Detail
		if typ == "" { // not an RFC 7807 problem document: say what HTTP answered
			s = fmt.Sprintf("HTTP %d: %s", ae.StatusCode, strings.TrimSpace(ae.Detail))
		} else {
			s = fmt.Sprintf("%s: %s", typ, ae.Detail)
		}
		for _, sp := range ae.Subproblems {
			s += fmt.Sprintf("; %s", sp.Detail)
		}
		return s
	}
	return err.Error()
}
