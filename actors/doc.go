// Package actors runs Parley's protoactor-go cluster, in which every Call,
// Agent, Queue and Campaign is a virtual actor (grain) that any member can
// reach by id.
//
// Start a member with Start and talk to grains through the typed clients of
// the returned Node (Calls, Agents, Queues, Campaigns). Grains write every
// change through to the store before they answer, so a grain re-activated on
// another member after a crash resumes where it was.
//
// The generated grain factories of protoc-gen-go-grain are package globals, so
// per-member dependencies (store, logger, metrics) travel as an actor-system
// extension that a grain looks up from its context on activation.
package actors
