package linux

import (
	"fmt"
	"testing"
)

// TestStreamSeq: Seq counts frames from 0 whatever the driver numbers them, gaps stay gaps, and
// it continues across reopens.
func TestStreamSeq(t *testing.T) {
	const reopen = -1
	tests := []struct {
		name   string
		driver []int64 // the driver's sequence numbers; reopen marks a reopen of the device
		want   []uint64
	}{
		{"steady", []int64{0, 1, 2, 3}, []uint64{0, 1, 2, 3}},
		{"driver starts high", []int64{100, 101, 102}, []uint64{0, 1, 2}},
		{"dropped frames are a gap", []int64{0, 1, 4, 5}, []uint64{0, 1, 4, 5}},
		{"vivid repeats its first number when late", []int64{0, 0, 1, 2}, []uint64{0, 1, 2, 3}},
		{"a repeat later on", []int64{5, 6, 6, 7, 9}, []uint64{0, 1, 2, 3, 5}},
		{"driver goes back", []int64{10, 11, 3, 4}, []uint64{0, 1, 2, 3}},
		{"32-bit wrap", []int64{4294967294, 4294967295, 0, 1}, []uint64{0, 1, 2, 3}},
		{"continues across a reopen", []int64{7, 8, reopen, 0, 1}, []uint64{0, 1, 2, 3}},
		{"reopen before any frame", []int64{reopen, 3, 4}, []uint64{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stream{first: -1}
			var got []uint64
			for _, d := range tt.driver {
				if d == reopen {
					s.base, s.first = s.next, -1 // what open does
					continue
				}
				got = append(got, s.seq(uint32(d)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("driver %v gave Seq %v, want %v", tt.driver, got, tt.want)
			}
		})
	}
}
