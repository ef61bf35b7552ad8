package roomd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
)

// maxAnswer bounds every portal answer the room reads; the largest is a grant with a bundle.
const maxAnswer = 512 << 10

// answer is a portal HTTP answer: status, body, and the api.Error when it failed.
type answer struct {
	Status int
	Body   []byte
	Err    api.Error
}

// postJSON sends body (nil: empty) as JSON and reads a size-limited answer.
func postJSON(ctx context.Context, c *http.Client, url string, body any) (answer, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, fmt.Errorf("post %s: %w", url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		return answer{}, fmt.Errorf("post %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("post %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return answer{}, fmt.Errorf("post %s: read answer: %w", url, err)
	}
	if len(data) > maxAnswer {
		return answer{}, fmt.Errorf("post %s: answer larger than %d bytes", url, maxAnswer)
	}
	a := answer{Status: resp.StatusCode, Body: data}
	if resp.StatusCode >= 300 {
		a.Err, _ = DecodeAPIError(data)
	}
	return a, nil
}

// String describes a failed answer for logs and last_error.
func (a answer) String() string {
	if a.Err.Code != "" {
		return fmt.Sprintf("status %d %s: %s", a.Status, a.Err.Code, a.Err.Message)
	}
	return fmt.Sprintf("status %d", a.Status)
}

// decodeStrict decodes one JSON value from data, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// DecodeAPIError reads a portal api.Error body (lenient about unknown fields: it is only used
// to name the failure).
func DecodeAPIError(data []byte) (api.Error, error) {
	var e api.Error
	if len(data) > maxAnswer {
		return e, errors.New("decode api error: too large")
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return api.Error{}, fmt.Errorf("decode api error: %w", err)
	}
	return e, nil
}

// DecodeRoomCommand strictly decodes a management poll answer.
func DecodeRoomCommand(data []byte) (api.RoomCommand, error) {
	var c api.RoomCommand
	if len(data) > maxAnswer {
		return c, fmt.Errorf("decode room command: larger than %d bytes", maxAnswer)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil // an empty 200 after the wait: nothing to do
	}
	if err := decodeStrict(data, &c); err != nil {
		return api.RoomCommand{}, fmt.Errorf("decode room command: %w", err)
	}
	return c, nil
}

// DecodeRenewResponse strictly decodes a renewal answer.
func DecodeRenewResponse(data []byte) (api.RenewResponse, error) {
	var r api.RenewResponse
	if len(data) > maxAnswer {
		return r, fmt.Errorf("decode renew response: larger than %d bytes", maxAnswer)
	}
	if err := decodeStrict(data, &r); err != nil {
		return api.RenewResponse{}, fmt.Errorf("decode renew response: %w", err)
	}
	if r.CertPEM == "" {
		return api.RenewResponse{}, errors.New("decode renew response: cert_pem is empty")
	}
	return r, nil
}
