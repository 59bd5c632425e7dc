package sip

import (
	siplib "github.com/emiago/sipgo/sip"
)

func (s *Server) onRefer(req *siplib.Request, tx siplib.ServerTransaction) {
	s.reply(tx, req, 501, "Not Implemented")
}

func (c *Call) readNotify(req *siplib.Request) {}
