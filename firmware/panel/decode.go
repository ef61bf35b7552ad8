package panel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxPairRequest bounds POST /api/pair: a PIN and a short name.
const maxPairRequest = 1 << 10

// PairRequest is POST /api/pair: the PIN the room shows and a name for this panel.
type PairRequest struct {
	PIN  string `json:"pin"`
	Name string `json:"name"`
}

// DecodePairRequest strictly decodes a pair request: unknown fields, trailing data, oversized
// bodies and a PIN that is not 6 digits are errors naming the problem.
func DecodePairRequest(data []byte) (PairRequest, error) {
	var r PairRequest
	if err := decodeStrict(data, &r, maxPairRequest); err != nil {
		return PairRequest{}, fmt.Errorf("decode pair request: %w", err)
	}
	if !validPIN(r.PIN) {
		return PairRequest{}, fmt.Errorf("decode pair request: %w", ErrBadPINForm)
	}
	if len(r.Name) > 4*MaxNameLen {
		return PairRequest{}, fmt.Errorf("decode pair request: name longer than %d characters", MaxNameLen)
	}
	r.Name = cleanName(r.Name)
	return r, nil
}

func decodeStrict(data []byte, v any, limit int) error {
	if len(data) > limit {
		return fmt.Errorf("larger than %d bytes", limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
