package main

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-cc/parley/deploy/demo"
	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/catalog"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// orderDialog starts the dialog engine after routing (it asks routing for
// expected waits) and before the voicebot (which drives it).
const orderDialog = 25

func init() {
	registerComponent(component{name: "dialog", order: orderDialog, start: startDialog})
}

// queueWaits is what the dialog engine wants from the routing service: the
// expected wait of a contact entering queue now (ok false when unknown).
type queueWaits interface {
	EstimatedWait(ctx context.Context, queue string) (time.Duration, bool)
}

// loadDeployment reads --deployment, or the demo built into the binary.
func loadDeployment(dir string) (*dialog.Deployment, error) {
	if dir == "" {
		return dialog.Load(demo.FS, demo.Source)
	}
	return dialog.LoadDir(dir)
}

// startDialog loads the deployment (a flow file with an error stops the
// node with file, line and reason), makes sure its articles are in the
// knowledge base, and publishes nodeEnv.Services["dialog"] (dialog.Engine,
// a *dialog.Bot) and ["dialog.deployment"] (*dialog.Deployment: intents,
// menus and flows, e.g. for the ASR grammar).
func startDialog(ctx context.Context, n *nodeEnv) (*running, error) {
	dep, err := loadDeployment(n.Cfg.Deployment)
	if err != nil {
		return nil, fmt.Errorf("dialog deployment: %w", err)
	}
	kb, _ := n.Services["kb"].(*knowledge.Base)
	switch cat, _ := n.Services["kb.catalog"].(*catalog.Catalog); {
	case kb == nil:
		// No knowledge component: the deployment's own articles, in memory.
		if kb, err = dialog.NewKnowledgeBase(ctx, dep); err != nil {
			return nil, err
		}
		n.Services["kb"] = kb
	case cat != nil:
		// Stored articles are the catalog's: import the deployment's (a no-op
		// when unchanged) so editors see and version them too.
		arts := make([]catalog.Article, len(dep.Articles))
		for i, a := range dep.Articles {
			arts[i] = catalog.Article{ID: a.ID, Title: a.Title, Body: a.Body, Format: a.Format, Category: a.Category,
				Language: a.Language, Tags: a.Tags, Status: a.Status, Author: "deployment " + dep.Name}
		}
		r, err := cat.Import(ctx, arts, nil)
		if err != nil {
			return nil, fmt.Errorf("import %s articles: %w", dep.Source, err)
		}
		for _, f := range r.Failed {
			n.Log.Warn("deployment article not imported", "article", f)
		}
	default:
		if err := dialog.IngestArticles(ctx, kb, dep); err != nil {
			return nil, err
		}
	}
	opts := dialog.Options{Deployment: dep, KB: kb, Customers: n.Store, Logger: n.Log,
		Callbacks: &dialog.StoreCallbacks{Store: n.Store, Queue: dep.Handoff.Queue}}
	if w, ok := n.Services["routing"].(queueWaits); ok {
		opts.EWT = w.EstimatedWait
	}
	var bot *dialog.Bot
	if n.Cfg.LLM == "openai" {
		bot, err = dialog.NewOpenAI(ctx, opts, dialog.LLMOptions{BaseURL: n.Cfg.OpenAIBaseURL, APIKey: n.Cfg.OpenAIAPIKey,
			Model: n.Cfg.LLMModel, FirstTokenTimeout: n.Cfg.LLMFirstTokenTimeout, StallTimeout: n.Cfg.LLMStallTimeout})
	} else {
		bot, err = dialog.NewLocal(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	n.Services["dialog"] = dialog.Engine(bot)
	n.Services["dialog.deployment"] = dep
	n.Log.Info("dialog engine ready", "deployment", dep.Name, "source", dep.Source, "engine", n.Cfg.LLM,
		"intents", len(dep.Intents), "flows", len(dep.Flows), "articles", len(dep.Articles), "callback_offers", opts.EWT != nil)
	return &running{}, nil
}
