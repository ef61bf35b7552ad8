package manager

import (
	"strconv"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// BenchmarkAdmit admits into a manager already holding 1000 seats over 10 routers.
func BenchmarkAdmit(b *testing.B) {
	c := newClock()
	s := New(Options{Licence: Licence{Licensee: "b", Seats: 1 << 30, NotAfter: c.Now().Add(time.Hour)}, Secret: testSecret, Now: c.Now})
	for d := range byte(10) {
		beat(s, d, 0, nil)
	}
	for i := range 1000 {
		if _, err := s.Admit(api.AdmitRequest{Meeting: "m" + strconv.Itoa(i%100), Participant: "p" + strconv.Itoa(i), Kind: "user"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Admit(api.AdmitRequest{Meeting: "m" + strconv.Itoa(i%100), Participant: "p" + strconv.Itoa(i%1000), Kind: "user"}); err != nil {
			b.Fatal(err)
		}
	}
}
