package actors

import (
	"time"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

func callToPB(c *store.Call) *pb.CallInfo {
	return &pb.CallInfo{
		Id: c.ID, Direction: c.Direction, Channel: c.Channel, From: c.From, To: c.To,
		ContactId: c.ContactID, QueueId: c.QueueID, AgentId: c.AgentID, CampaignId: c.CampaignID,
		State: c.State, Disposition: c.Disposition, Summary: c.Summary, RecordingPath: c.RecordingPath,
		StartedAt: nanos(c.StartedAt), AnsweredAt: nanosPtr(c.AnsweredAt), EndedAt: nanosPtr(c.EndedAt),
		UpdatedAt: nanos(c.UpdatedAt),
	}
}

func callFromPB(c *pb.CallInfo) store.Call {
	if c == nil {
		return store.Call{}
	}
	return store.Call{
		ID: c.Id, Direction: c.Direction, Channel: c.Channel, From: c.From, To: c.To,
		ContactID: c.ContactId, QueueID: c.QueueId, AgentID: c.AgentId, CampaignID: c.CampaignId,
		State: c.State, Disposition: c.Disposition, Summary: c.Summary, RecordingPath: c.RecordingPath,
		StartedAt: fromNanos(c.StartedAt), AnsweredAt: ptrFromNanos(c.AnsweredAt), EndedAt: ptrFromNanos(c.EndedAt),
		UpdatedAt: fromNanos(c.UpdatedAt),
	}
}

// turnFromPB builds the stored turn; a turn without a time is stamped now.
func turnFromPB(callID string, seq int64, t *pb.Turn) store.Turn {
	st := store.Turn{
		CallID: callID, Seq: int(seq), Speaker: t.Speaker, Text: t.Text, Intent: t.Intent,
		Confidence: t.Confidence, Sentiment: t.Sentiment, At: fromNanos(t.At),
	}
	if tm := t.Timings; tm != nil {
		st.Timings = store.Timings{
			ASRFinalMs: tm.AsrFinalMs, LLMFirstTokenMs: tm.LlmFirstTokenMs,
			TTSFirstAudioMs: tm.TtsFirstAudioMs, FirstRTPOutMs: tm.FirstRtpOutMs,
		}
	}
	if st.At.IsZero() {
		st.At = time.Now().UTC()
	}
	return st
}

func turnToPB(t *store.Turn) *pb.Turn {
	p := &pb.Turn{
		Seq: int64(t.Seq), Speaker: t.Speaker, Text: t.Text, Intent: t.Intent,
		Confidence: t.Confidence, Sentiment: t.Sentiment, At: nanos(t.At),
	}
	if t.Timings != (store.Timings{}) {
		p.Timings = &pb.Timings{
			AsrFinalMs: t.Timings.ASRFinalMs, LlmFirstTokenMs: t.Timings.LLMFirstTokenMs,
			TtsFirstAudioMs: t.Timings.TTSFirstAudioMs, FirstRtpOutMs: t.Timings.FirstRTPOutMs,
		}
	}
	return p
}

func turnFromWire(callID string, t *pb.Turn) store.Turn {
	st := turnFromPB(callID, t.Seq, t)
	st.At = fromNanos(t.At)
	return st
}

func eventFromPB(callID string, seq int64, e *pb.CallEvent) store.CallEvent {
	se := store.CallEvent{CallID: callID, Seq: int(seq), Type: e.Type, By: e.By, Data: e.Data, At: fromNanos(e.At)}
	if se.At.IsZero() {
		se.At = time.Now().UTC()
	}
	return se
}

func eventToPB(e *store.CallEvent) *pb.CallEvent {
	return &pb.CallEvent{Seq: int64(e.Seq), Type: e.Type, By: e.By, Data: e.Data, At: nanos(e.At)}
}

func turnToWire(t store.Turn) *pb.Turn {
	p := turnToPB(&t)
	return p
}

func eventToWire(e store.CallEvent) *pb.CallEvent {
	return eventToPB(&e)
}
