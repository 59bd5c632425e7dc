// Package sip is Parley's SIP gateway: it answers and places calls with
// github.com/emiago/sipgo, negotiates G.711 audio in SDP, registers agents'
// SIP phones, and runs each answered call's media through gateway/rtp.
package sip
