package update

// Trial state read from the loader entries, in terms a room can report without knowing the
// boot loader: the boot-loader-neutral view the room agent (firmware/roomd) reports to the portal.

// OnTrial says whether the running slot booted from an entry not yet marked good. (systemd-boot
// counts a try when it boots the entry, so the last try runs with +0-N: still a trial.)
func (st State) OnTrial() bool {
	for _, e := range st.Entries {
		if e.File.Slot == st.Slot && e.File.Counting {
			return true
		}
	}
	return false
}

// FailedTrial returns the version of the newest install whose trial boot failed (tries used up)
// and that is not the running version: the room fell back from it.
func (st State) FailedTrial() (version string, ok bool) {
	seq := -1
	for _, e := range st.Entries {
		if e.File.Slot != st.Slot && e.File.Bad() && e.Ver != st.Version && e.Seq > seq {
			seq, version, ok = e.Seq, e.Ver, true
		}
	}
	return version, ok
}

// Pending returns the version installed in the other slot waiting for its first trial boot
// (counter set, no boot tried yet).
func (st State) Pending() (version string, ok bool) {
	for _, e := range st.Entries {
		if e.File.Slot != st.Slot && e.File.Counting && e.File.Done == 0 && !e.File.Bad() {
			return e.Ver, true
		}
	}
	return "", false
}
