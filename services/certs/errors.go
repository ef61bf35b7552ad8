package certs

import "fmt"

// Error is a certificate problem a person can act on. Code is stable and machine-readable (it
// becomes api.Error.Code); Msg says what is wrong and, where possible, what to do about it.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Error codes. Each check in ParseUpload, Validate, CreateCSR and GenerateKey has its own.
const (
	CodeEmpty               = "cert.empty"
	CodeTooLarge            = "cert.too_large"
	CodeGarbage             = "cert.garbage"
	CodeTruncatedPEM        = "cert.truncated_pem"
	CodeNoCertificate       = "cert.no_certificate"
	CodeMultipleLeaves      = "cert.multiple_leaves"
	CodeP12Password         = "p12.password"
	CodeP12Invalid          = "p12.invalid"
	CodeP7Invalid           = "p7.invalid"
	CodeKeyMissing          = "key.missing"
	CodeKeyInvalid          = "key.invalid"
	CodeKeyMismatch         = "key.mismatch"
	CodeKeyAlgorithm        = "key.algorithm"
	CodeExpired             = "cert.expired"
	CodeNotYetValid         = "cert.not_yet_valid"
	CodeSANMismatch         = "cert.san_mismatch"
	CodeMissingIntermediate = "chain.missing_intermediate"
	CodeUntrusted           = "chain.untrusted"
	CodeChainInvalid        = "chain.invalid"
	CodeSelfSigned          = "cert.self_signed"
	CodeLeafIsCA            = "cert.leaf_is_ca"
	CodeNoServerAuth        = "cert.no_server_auth"
	CodeWeakKey             = "cert.weak_key"
	CodeWeakSignature       = "cert.weak_signature"
	CodeCSRInvalid          = "csr.invalid"
)

func errf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}
