package taskapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/webhook"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestWebhooks_RegistrationGuardsAndOwnership: a private or loopback
// endpoint is refused (INVALID_ARGUMENT naming url) unless the server
// allows it, a plain-http public one always, a bad secret names secret;
// each user lists and deletes only their own webhooks, and the secret is
// never returned.
func TestWebhooks_RegistrationGuardsAndOwnership(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	bn.svc.SetWebhookGuard(webhook.Guard(false))
	for _, url := range []string{"https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://169.254.169.254/", "http://93.184.216.34/hook", "not a url"} {
		_, err := cl.CreateWebhook(bn.asA(t), &taskv1.CreateWebhookRequest{Url: url, Secret: testSecret})
		wantStatus(t, err, codes.InvalidArgument, "url")
	}
	_, err := cl.CreateWebhook(bn.asA(t), &taskv1.CreateWebhookRequest{Url: "https://93.184.216.34/hook", Secret: "hunter2"})
	wantStatus(t, err, codes.InvalidArgument, "secret")
	public, err := cl.CreateWebhook(bn.asA(t), &taskv1.CreateWebhookRequest{Url: "https://93.184.216.34/hook", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}

	bn.svc.SetWebhookGuard(webhook.Guard(true))
	local, err := cl.CreateWebhook(bn.asA(t), &taskv1.CreateWebhookRequest{Url: "http://127.0.0.1:9/hook", Secret: testSecret})
	if err != nil {
		t.Fatalf("a loopback endpoint with WEBHOOK_ALLOW_PRIVATE: %v", err)
	}
	list, err := cl.ListWebhooks(bn.asA(t), &taskv1.ListWebhooksRequest{})
	if err != nil || len(list.GetWebhooks()) != 2 || list.GetWebhooks()[0].GetId() != public.GetId() || list.GetWebhooks()[1].GetUrl() != "http://127.0.0.1:9/hook" {
		t.Fatalf("A's webhooks: %v, %v", list, err)
	}
	if list, err := cl.ListWebhooks(bn.asB(t), &taskv1.ListWebhooksRequest{}); err != nil || len(list.GetWebhooks()) != 0 {
		t.Errorf("B lists %v, %v; want none", list, err)
	}
	_, err = cl.DeleteWebhook(bn.asB(t), &taskv1.DeleteWebhookRequest{Id: local.GetId()})
	wantStatus(t, err, codes.NotFound)
	if _, err := cl.DeleteWebhook(bn.asA(t), &taskv1.DeleteWebhookRequest{Id: local.GetId()}); err != nil {
		t.Fatal(err)
	}
	if list, _ := cl.ListWebhooks(bn.asA(t), &taskv1.ListWebhooksRequest{}); len(list.GetWebhooks()) != 1 {
		t.Errorf("after the delete A has %v", list.GetWebhooks())
	}
}
