package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

// idleActor passivates the grain actor it wraps after idle without a
// request. It replaces protoactor's receive timeout, whose timer goroutine
// writes the actor context's fields while the mailbox reads them (a data
// race); here the timer only posts a message, and the check runs in the
// mailbox like every other message.
type idleActor struct {
	inner actor.Actor
	idle  time.Duration
	last  time.Time
	timer *time.Timer
}

// idleCheck asks the grain whether it has been idle long enough to stop.
type idleCheck struct{}

func (a *idleActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *idleCheck:
		if left := a.idle - time.Since(a.last); left > 0 {
			a.check(ctx, left)
		} else {
			ctx.Poison(ctx.Self())
		}
		return
	case *cluster.ClusterInit:
		a.last = time.Now()
		a.inner.Receive(ctx)
		a.check(ctx, a.idle)
		return
	case *actor.Stopped:
		if a.timer != nil {
			a.timer.Stop()
		}
	case *cluster.GrainRequest:
		a.last = time.Now()
	}
	a.inner.Receive(ctx)
}

// check posts an idleCheck to the grain after d.
func (a *idleActor) check(ctx actor.Context, d time.Duration) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.timer = time.AfterFunc(d, func() { root.Send(self, &idleCheck{}) })
}
