package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// notifier posts a Slack-compatible message (text, and blocks with
// buttons linking to the web app's request page) to a webhook when an
// access request is made or decided. A nil notifier posts nothing.
type notifier struct {
	url, public string
	client      *http.Client
	log         *slog.Logger
}

func newNotifier(url, public string, client *http.Client, log *slog.Logger) *notifier {
	if url == "" {
		return nil
	}
	return &notifier{url: url, public: strings.TrimSuffix(public, "/"), client: client, log: log}
}

// request tells approvers of a new request.
func (n *notifier) request(r store.AccessRequest, what string) {
	if n == nil {
		return
	}
	text := fmt.Sprintf("%s (needs %d approval(s), pending until %s)", what, r.Approvals, r.ExpiresAt.Format(time.RFC3339))
	n.post(text, r, true)
}

// decided tells the requester (and the channel) of the decision.
func (n *notifier) decided(r store.AccessRequest) {
	if n == nil {
		return
	}
	text := fmt.Sprintf("%s's request for %s was %s", r.User, r.Role, r.Status)
	if r.Status == store.RequestApproved {
		text += ": the window ends at " + r.EndsAt.Format(time.RFC3339)
	}
	n.post(text, r, false)
}

// post sends the message in the background; a failure is logged, never
// retried: the request itself is in the store and the web app's inbox.
func (n *notifier) post(text string, r store.AccessRequest, buttons bool) {
	// A reason is the requester's text: escaped as Slack asks, so that
	// "<!channel>" or a crafted <url|label> link stays text.
	text = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
	link := n.public + "/requests/" + r.ID
	blocks := []any{map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": text}}}
	if buttons && n.public != "" {
		button := func(label, style, action string) map[string]any {
			return map[string]any{"type": "button", "text": map[string]string{"type": "plain_text", "text": label}, "style": style, "url": link + "?action=" + action}
		}
		blocks = append(blocks, map[string]any{"type": "actions", "elements": []any{button("Approve", "primary", "approve"), button("Deny", "danger", "deny")}})
	} else if n.public != "" {
		text += " " + link
	}
	body, _ := json.Marshal(map[string]any{"text": text, "blocks": blocks})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
		if err != nil {
			n.log.Warn("notify", "request", r.ID, "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := n.client.Do(req)
		if err != nil {
			n.log.Warn("notify", "request", r.ID, "err", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			n.log.Warn("notify", "request", r.ID, "status", resp.Status)
		}
	}()
}
