package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/parley-cc/parley/store"
)

// loadDemo fills an empty store with the demo deployment's contact center:
// the queues its bot transfers to (support, billing) and two agents who can
// take them. A store that has agents already is left alone.
func loadDemo(ctx context.Context, st store.Store) error {
	agents, err := st.ListAgents(ctx)
	if err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	if len(agents) > 0 {
		return nil
	}
	for _, q := range []store.Queue{
		{ID: "support", Name: "Customer support", Strategy: "longest_idle", ServiceLevelSecs: 20,
			RequiredSkills: []store.Skill{{Name: "support", Proficiency: 2}}, Language: "en"},
		{ID: "billing", Name: "Billing", Strategy: "most_skilled", ServiceLevelSecs: 30,
			RequiredSkills: []store.Skill{{Name: "billing", Proficiency: 2}}, Language: "en", OverflowQueueID: "support", OverflowAfterSec: 120},
	} {
		if err := st.CreateQueue(ctx, &q); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create demo queue %s: %w", q.ID, err)
		}
	}
	for _, a := range []store.Agent{
		{ID: "alice", Name: "Alice Moreau", Extension: "1001", Capacity: 1, Languages: []string{"en", "fr"},
			Skills: []store.Skill{{Name: "support", Proficiency: 5}, {Name: "billing", Proficiency: 3}}},
		{ID: "bob", Name: "Bob Okafor", Extension: "1002", Capacity: 1, Languages: []string{"en"},
			Skills: []store.Skill{{Name: "support", Proficiency: 3}, {Name: "billing", Proficiency: 4}}},
	} {
		if err := st.CreateAgent(ctx, &a); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create demo agent %s: %w", a.ID, err)
		}
	}
	return nil
}

// redactDSN hides a password in a postgres:// DSN so it can be logged.
func redactDSN(db string) string {
	u, err := url.Parse(db)
	if err != nil || u.User == nil {
		return db
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
