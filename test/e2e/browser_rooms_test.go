package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestBrowserRoomsPairAndUnpair drives Admin → Rooms in a real Chromium against the real
// stoa-server and a real roomd --board=sim: a wrong code shows the server's refusal and adds
// no room; the room's own code (typed with spaces) pairs it and the row turns online; unpair
// from the page removes the row, and roomd goes back to unpaired with a new code.
func TestBrowserRoomsPairAndUnpair(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	roomdBin, roomctlBin := buildRoom(t)
	room := startRoomd(t, roomdBin, roomctlBin, stack.PortalURL)
	first := brWaitUnpaired(t, room, "")
	if !strings.Contains(room.out.String(), "Pairing code: "+first) {
		t.Errorf("roomd printed no %q line; output:\n%s", "Pairing code: "+first, room.out)
	}

	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	bsDo(t, ctx,
		chromedp.Navigate(stack.PortalURL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), stack.AdminName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), stack.AdminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#active-serial")),
		chromedp.Click(chromedp.CSS(`a[href="rooms.html"]`)),
		chromedp.WaitVisible(chromedp.CSS("#pair-code")),
		chromedp.WaitVisible(chromedp.CSS("#rooms-empty")),
	)

	t.Run("code format is checked in the page", func(t *testing.T) {
		tests := []struct{ in, want string }{
			{"1234 5678 9012", `{"digits":"123456789012"}`},
			{" 1234-5678-9012 ", `{"digits":"123456789012"}`},
			{"1234 5678", "12 digits; this one has 8"},
			{"1234 5678 901a", "only digits"},
			{"", "Enter the 12-digit"},
		}
		for _, tc := range tests {
			t.Run(tc.in, func(t *testing.T) {
				got := bsRun(t, ctx, chromedp.Evaluate[string](
					`import("/ui/js/roomsview.js").then((m) => JSON.stringify(m.normalizeCode(`+jsString(tc.in)+`)))`,
					chromedp.EvalAwaitPromise))
				if !strings.Contains(got, tc.want) {
					t.Errorf("normalizeCode(%q) = %s, want %s", tc.in, got, tc.want)
				}
			})
		}
	})

	t.Run("wrong codes are refused with the server's message", func(t *testing.T) {
		tests := []struct {
			name  string
			code  pairing.Code
			exact bool // the refusal is stateless, so the API must answer the page's words again
		}{
			// No room waits with this locator: the portal refuses before any exchange.
			{"unknown locator", brWrongCode(t, first, 0, 3), true},
			// The portal finds the room; the PAKE refuses the wrong secret on both sides.
			{"right locator, wrong secret", brWrongCode(t, first, 4, 11), false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				msg := brPairInPage(t, ctx, tc.code.String(), "Wrong Room")
				if msg == "" {
					t.Fatalf("pairing with the wrong code %s succeeded", tc.code)
				}
				t.Logf("#pair-error: %s", msg)
				if !strings.Contains(strings.ToLower(msg), "code") {
					t.Errorf("#pair-error = %q, want the server's message about the code", msg)
				}
				if role := bsRun(t, ctx, chromedp.Evaluate[string](`document.getElementById("pair-error").getAttribute("role")`)); role != "alert" {
					t.Errorf("#pair-error role = %q, want alert", role)
				}
				if tc.exact {
					sess := stack.Login(t)
					status, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: tc.code.String(), Name: "Wrong Room"}, "", nil)
					var apiErr api.Error
					if err != nil || json.Unmarshal(body, &apiErr) != nil || status < 400 {
						t.Fatalf("API pair with a wrong code: status %d, err %v, body %s", status, err, body)
					}
					if apiErr.Message != msg {
						t.Errorf("#pair-error %q, but the API says %q (%s)", msg, apiErr.Message, apiErr.Code)
					}
				}
				if n := bsRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rooms-body tr").length`)); n != 0 {
					t.Errorf("%d room rows after a wrong code, want none", n)
				}
				if rooms := brListRooms(t, stack); len(rooms) != 0 {
					t.Errorf("portal lists %d rooms after a wrong code: %+v", len(rooms), rooms)
				}
				// The room keeps waiting with the same code.
				if again := brWaitUnpaired(t, room, ""); again != first {
					t.Errorf("roomd shows code %q after a wrong attempt, want the unchanged %q", again, first)
				}
			})
		}
	})

	var roomID string
	t.Run("right code pairs and the room comes online", func(t *testing.T) {
		start := time.Now()
		if msg := brPairInPage(t, ctx, first, "Board Room"); msg != "" {
			t.Fatalf("pairing with the room's code %q failed: %s", first, msg)
		}
		bsPoll(t, ctx, `document.querySelector("#rooms-body tr[data-room-id]") !== null`, "a room row")
		roomID = bsRun(t, ctx, chromedp.Evaluate[string](`document.querySelector("#rooms-body tr[data-room-id]").dataset.roomId`))
		sel := `#rooms-body tr[data-room-id="` + roomID + `"]`
		bsWaitText(t, ctx, sel+" .room-name", "Board Room")
		bsWaitText(t, ctx, sel+" .room-status", "online")
		elapsed := time.Since(start)
		t.Logf("pair click to online row: %v", elapsed.Round(time.Millisecond))
		if elapsed > 5*time.Second {
			t.Errorf("the row showed online %v after the click, want within 5s", elapsed)
		}
		st := room.waitStatus(t, "paired", 10*time.Second, func(s roomd.Status) bool { return s.State == roomd.StatePaired && s.RoomID != "" })
		if st.RoomID != roomID {
			t.Errorf("roomd holds room ID %q, the page shows %q", st.RoomID, roomID)
		}
		rooms := brListRooms(t, stack)
		if len(rooms) != 1 || rooms[0].ID != roomID || rooms[0].Name != "Board Room" {
			t.Errorf("portal lists %+v, want one room %s named Board Room", rooms, roomID)
		}
	})
	if roomID == "" {
		t.Fatal("no room paired; cannot go on")
	}

	t.Run("rename", func(t *testing.T) {
		sel := `#rooms-body tr[data-room-id="` + roomID + `"]`
		bsDo(t, ctx,
			chromedp.Click(chromedp.CSS(sel+` button[data-action="rename"]`)),
			chromedp.WaitVisible(chromedp.CSS("#rename-name")),
			chromedp.SetValue(chromedp.CSS("#rename-name"), "Huddle <b>2</b>"),
			chromedp.Click(chromedp.CSS("#rename-submit")),
		)
		bsWaitText(t, ctx, sel+" .room-name", "Huddle <b>2</b>")
		if n := bsRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rooms-body b").length`)); n != 0 {
			t.Errorf("the name became markup (%d <b> elements), want inert text", n)
		}
		if rooms := brListRooms(t, stack); len(rooms) != 1 || rooms[0].Name != "Huddle <b>2</b>" {
			t.Errorf("portal lists %+v after rename", rooms)
		}
	})

	t.Run("push to all shows each room's acknowledgement", func(t *testing.T) {
		bsDo(t, ctx, chromedp.Click(chromedp.CSS("#push-all")))
		sel := `#rooms-body tr[data-room-id="` + roomID + `"] td.bundle`
		bsPoll(t, ctx, `document.querySelector(`+jsString(sel)+`)?.dataset.push === "acked"`, "the room's push acknowledgement")
		bsWaitText(t, ctx, "#push-status", "The room acknowledged bundle version")
		rooms := brListRooms(t, stack)
		if len(rooms) != 1 || !strings.Contains(bsText(t, ctx, sel), fmt.Sprintf("v%d of v%d", rooms[0].BundleVersion, rooms[0].BundleVersion)) {
			t.Errorf("bundle cell %q, portal lists %+v", bsText(t, ctx, sel), rooms)
		}
	})

	t.Run("unpair from the page", func(t *testing.T) {
		sel := `#rooms-body tr[data-room-id="` + roomID + `"]`
		bsDo(t, ctx,
			chromedp.Click(chromedp.CSS(sel+` button[data-action="unpair"]`)),
			chromedp.WaitVisible(chromedp.CSS("#unpair-confirm-row")),
		)
		// The first click only asks.
		if n := bsRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rooms-body tr[data-room-id]").length`)); n != 1 {
			t.Fatalf("%d rows after the first click, want the room still there", n)
		}
		bsDo(t, ctx, chromedp.Click(chromedp.CSS("#unpair-confirm")))
		bsPoll(t, ctx, `document.querySelector("#rooms-body tr[data-room-id]") === null`, "the row to disappear")
		if rooms := brListRooms(t, stack); len(rooms) != 0 {
			t.Errorf("portal still lists %+v after unpair", rooms)
		}
		start := time.Now()
		next := brWaitUnpaired(t, room, first)
		t.Logf("unpair click to roomd showing a new code: %v", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(room.out.String(), "Pairing code: "+next) {
			t.Errorf("roomd printed no %q line after unpair", "Pairing code: "+next)
		}
	})

	// The wrong code answers 4xx on purpose, and Chromium logs every non-2xx fetch.
	browser.RequireNoErrors(t, ctx, "status of 404", "status of 409", "status of 422")
}

// brPairInPage fills the Add room form, submits it and waits for the answer: it returns the
// text of #pair-error, or "" when the page reports success.
func brPairInPage(t *testing.T, ctx context.Context, code, name string) string {
	t.Helper()
	bsRun(t, ctx, chromedp.Evaluate[bool](`document.getElementById("pair-form").reset(), true`))
	bsDo(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#pair-code"), code),
		chromedp.SendKeys(chromedp.CSS("#pair-name"), name),
		chromedp.Click(chromedp.CSS("#pair-submit")),
	)
	// Submitting hides both boxes at once; the portal's answer shows one of them.
	bsPoll(t, ctx, `!document.getElementById("pair-error").hidden || !document.getElementById("pair-result").hidden`, "the pairing answer")
	if bsRun(t, ctx, chromedp.Evaluate[bool](`document.getElementById("pair-error").hidden`)) {
		return ""
	}
	return bsText(t, ctx, "#pair-error")
}

// brWrongCode returns a valid code that differs from right in one digit at a position in
// [from, to]: positions 0-3 are the locator, 4-11 the secret.
func brWrongCode(t *testing.T, right string, from, to int) pairing.Code {
	t.Helper()
	good, err := pairing.ParseCode(right)
	if err != nil {
		t.Fatalf("roomd shows %q, which is not a valid code: %v", right, err)
	}
	digits := []byte(strings.ReplaceAll(good.String(), " ", ""))
	for i := to; i >= from; i-- {
		for d := byte(1); d < 10; d++ {
			w := append([]byte(nil), digits...)
			w[i] = '0' + (w[i]-'0'+d)%10
			if c, err := pairing.ParseCode(string(w)); err == nil {
				return c
			}
		}
	}
	t.Fatalf("no valid code differing from %q in positions %d-%d", right, from, to)
	return ""
}

func brListRooms(t *testing.T, stack *stoatest.Stack) []api.Room {
	t.Helper()
	return listRooms(t, stack.Login(t))
}

// brWaitUnpaired waits (through roomctl status --json) until roomd is unpaired and shows a
// code other than not, and returns that code.
func brWaitUnpaired(t *testing.T, r *roomProc, not string) string {
	t.Helper()
	return r.waitStatus(t, "unpaired with a new code", 30*time.Second, func(s roomd.Status) bool {
		return s.State == roomd.StateUnpaired && s.Code != "" && s.Code != not
	}).Code
}
