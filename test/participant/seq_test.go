package participant

import "testing"

// TestSeqExtender: RTP sequence numbers extend across the 16-bit wrap, older packets (reordered
// or retransmitted) are flagged and never lower the highest.
func TestSeqExtender(t *testing.T) {
	tests := []struct {
		name    string
		in      []uint16
		want    []uint64
		forward []bool
	}{
		{"in order", []uint16{10, 11, 12}, []uint64{65546, 65547, 65548}, []bool{true, true, true}},
		{"wrap", []uint16{65534, 65535, 0, 1}, []uint64{131070, 131071, 131072, 131073}, []bool{true, true, true, true}},
		{"reordered", []uint16{5, 7, 6, 8}, []uint64{65541, 65543, 65542, 65544}, []bool{true, true, false, true}},
		{"late across the wrap", []uint16{1, 65535, 2}, []uint64{65537, 65535, 65538}, []bool{true, false, true}},
		{"duplicate", []uint16{9, 9}, []uint64{65545, 65545}, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e seqExtender
			for i, s := range tc.in {
				ext, fwd := e.next(s)
				if ext != tc.want[i] || fwd != tc.forward[i] {
					t.Errorf("packet %d (seq %d): got %d forward=%v, want %d forward=%v", i, s, ext, fwd, tc.want[i], tc.forward[i])
				}
			}
		})
	}
}
