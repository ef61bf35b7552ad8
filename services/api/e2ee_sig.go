package api

import (
	"errors"
	"fmt"
)

// MaxE2EEKey bounds the key message of one "e2ee_key" (services/api/e2ee.KeyMessageLen today).
const MaxE2EEKey = 256

// SigE2EEKey carries one sender's SFrame key sealed to one recipient
// (services/api/e2ee key message). The client names the recipient in To; the router relays it
// to that participant only, with From set to the sender's ID (whatever the client put there).
// The router cannot open it, and cannot make one that opens.
type SigE2EEKey struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Key  []byte `json:"key"`
}

// DecodeSigE2EEKey decodes an "e2ee_key" payload: a key of at most MaxE2EEKey bytes and a
// recipient or a sender.
func DecodeSigE2EEKey(m SigMessage) (SigE2EEKey, error) {
	var v SigE2EEKey
	if err := DecodeSigData(m, &v); err != nil {
		return SigE2EEKey{}, err
	}
	switch {
	case len(v.Key) == 0:
		return SigE2EEKey{}, errors.New(`decode "e2ee_key" payload: missing key`)
	case len(v.Key) > MaxE2EEKey:
		return SigE2EEKey{}, fmt.Errorf(`decode "e2ee_key" payload: key of %d bytes exceeds %d`, len(v.Key), MaxE2EEKey)
	case v.To == "" && v.From == "":
		return SigE2EEKey{}, errors.New(`decode "e2ee_key" payload: names neither recipient nor sender`)
	}
	return v, nil
}
