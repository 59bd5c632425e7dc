package webrtc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
)

// ErrNoCodec means the far end offers neither PCMU nor PCMA.
var ErrNoCodec = errors.New("no common audio codec (want PCMU or PCMA)")

// audioFormat is what a leg uses on the wire, taken from the remote SDP.
type audioFormat struct {
	MimeType string // pion.MimeTypePCMU or pion.MimeTypePCMA
	PT       uint8  // G.711 payload type
	EventPT  int    // telephone-event/8000 payload type, -1 when not offered
}

// pickAudio returns the first G.711 codec of the remote description's audio
// section in its order of preference, and its telephone-event payload type.
func pickAudio(raw string) (audioFormat, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return audioFormat{}, fmt.Errorf("%w: sdp: %v", ErrBadMessage, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		names := map[int]string{0: "pcmu/8000", 8: "pcma/8000"}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if n, err := strconv.Atoi(pt); ok && err == nil {
				names[n] = strings.ToLower(enc)
			}
		}
		f := audioFormat{EventPT: -1}
		for _, fm := range m.MediaName.Formats {
			n, err := strconv.Atoi(fm)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			switch strings.TrimSuffix(names[n], "/1") {
			case "pcmu/8000":
				if f.MimeType == "" {
					f.MimeType, f.PT = pion.MimeTypePCMU, uint8(n)
				}
			case "pcma/8000":
				if f.MimeType == "" {
					f.MimeType, f.PT = pion.MimeTypePCMA, uint8(n)
				}
			case "telephone-event/8000":
				if f.EventPT < 0 {
					f.EventPT = n
				}
			}
		}
		if f.MimeType == "" {
			return f, ErrNoCodec
		}
		return f, nil
	}
	return audioFormat{}, fmt.Errorf("%w: the description has no audio section", ErrNoCodec)
}
