// Package e2ee is Stoa's end-to-end media encryption for the Secured option: SFrame (RFC 9605)
// with the AES_128_GCM_SHA256_128 cipher suite (0x0004), keys that each sender owns, and the
// key exchange that carries them between participants sealed with HPKE (RFC 9180). It is part
// of the published contract (services/api): the room firmware, the Go test client and the
// browser client implement the same frame layout and key messages.
//
// # Frames
//
// One media frame (an encoded VP8/H.264 picture or an Opus packet) is one SFrame ciphertext,
// applied before RTP packetization. Codec bytes the router needs stay readable, as LiveKit and
// Jitsi do, and are authenticated as SFrame metadata (part of the AAD):
//
//   - VP8: the first 10 bytes of a key frame (frame tag, start code, size) and the first 3 of a
//     delta frame (frame tag, whose P bit is the key-frame flag) stay clear: the router still
//     spots key frames and switches simulcast layers on them. Layout: clear || SFrame.
//   - H.264 (Annex B): every NAL unit is encrypted on its own; its 1-byte NAL header stays clear
//     (type 5/7 marks key frames for the router), the rest is an SFrame ciphertext escaped with
//     emulation prevention bytes (H.264 7.4.1) so start codes cannot appear inside it.
//   - Opus: the whole packet is encrypted, TOC byte included: the router needs nothing from the
//     payload (active speaker detection reads the RFC 6464 header extension, which stays
//     readable to the router by design).
//
// # Keys
//
// Every participant has an X25519 key pair for the meeting; the public key is in its join
// token, which only the portal signs. The router relays each participant's token to the
// others, who verify the portal's signature before trusting the key, so a router cannot swap
// in a key of its own. Each sender encrypts with its own base key, labelled with KID = epoch:
//
//   - when someone joins, every sender ratchets (base' = HKDF-Expand(HKDF-Extract(base),
//     "stoa e2ee ratchet", 16)) and hands only the newcomer the new key; the others ratchet on
//     their own when they see the next KID, and the newcomer cannot go back to earlier media;
//   - when someone leaves, every sender draws a fresh random base key and sends it to the
//     participants that remain, so the leaver cannot read what follows.
//
// Keys travel in key messages (EncodeKeyMessage) sealed with HPKE in Auth mode (DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256, AES-128-GCM) from the sender's token-bound key to the recipient's,
// with info binding meeting, sender, recipient and epoch: only the named recipient can open
// one, and only the named sender can have made it.
package e2ee
