package cases

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/bench/internal/load"
)

// The case names, in the order All returns them: reads first, then the
// writes, the creates last, so that the rows they add do not change what
// the other cases read.
const (
	GetTask      = "GetTask"
	ListFirst    = "ListTasks page 1"
	ListDeep     = "ListTasks page 1000"
	Search       = "ListTasks q by relevance"
	GetTaskStats = "GetTaskStats"
	UpdateTask   = "UpdateTask"
	Login        = "Login"
	CreateTask   = "CreateTask"
	BatchCreate  = "BatchCreateTasks ×100"
)

// BatchSize is how many tasks one BatchCreate request creates.
const BatchSize = 100

// searches are the queries of the Search case: two words of the seeded
// vocabulary (bench/internal/dataset), the second being typed (a prefix),
// as a search box sends them.
var searches = []string{"plan spr", "review rep", "budget quart", "deploy serv", "invoice supp",
	"email cust", "meet tea", "release not", "fix dash", "book offs"}

// The transports.
const (
	GRPC = "gRPC"
	REST = "REST"
)

// Case is one API call over one transport.
type Case struct {
	// Name is the call, one of the constants above.
	Name string
	// Via is GRPC or REST.
	Via string
	// Do makes one request.
	Do load.Func
}

// Targets are where the requests go: the services directly over gRPC, the
// gateway over REST.
type Targets struct {
	Task taskv1.TaskServiceClient
	User userv1.UserServiceClient
	// HTTP is the REST client; its Transport should keep at least as many
	// idle connections per host as there are workers.
	HTTP *http.Client
	// Base is the gateway's URL, e.g. http://127.0.0.1:8080.
	Base string
}

// All returns every case over both transports, each gRPC case followed by
// its REST twin.
func All(t Targets, p *Pool) []Case {
	var all []Case
	add := func(name string, grpc, rest load.Func) {
		all = append(all, Case{Name: name, Via: GRPC, Do: grpc}, Case{Name: name, Via: REST, Do: rest})
	}
	size := int32(p.PageSize)
	sizeQuery := "page_size=" + strconv.Itoa(p.PageSize)

	add(GetTask,
		func(ctx context.Context, r *rand.Rand) error {
			pr := p.Pairs[r.IntN(len(p.Pairs))]
			resp, err := t.Task.GetTask(metadata.NewOutgoingContext(ctx, pr.User.md), &taskv1.GetTaskRequest{Id: pr.TaskID})
			if err != nil {
				return err
			}
			if resp.GetId() != pr.TaskID {
				return fmt.Errorf("GetTask(%d) returned task %d", pr.TaskID, resp.GetId())
			}
			return nil
		},
		func(ctx context.Context, r *rand.Rand) error {
			pr := p.Pairs[r.IntN(len(p.Pairs))]
			return t.rest(ctx, http.MethodGet, "/v1/tasks/"+strconv.FormatInt(pr.TaskID, 10), pr.User.Bearer, nil)
		})

	add(ListFirst,
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			resp, err := t.Task.ListTasks(metadata.NewOutgoingContext(ctx, h.md), &taskv1.ListTasksRequest{PageSize: size})
			return checkPage(resp, err, p.PageSize)
		},
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			return t.rest(ctx, http.MethodGet, "/v1/tasks?"+sizeQuery, h.Bearer, nil)
		})

	add(ListDeep,
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			resp, err := t.Task.ListTasks(metadata.NewOutgoingContext(ctx, h.md),
				&taskv1.ListTasksRequest{PageSize: size, PageToken: h.DeepToken})
			return checkPage(resp, err, p.PageSize)
		},
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			return t.rest(ctx, http.MethodGet, "/v1/tasks?"+sizeQuery+"&page_token="+h.deepTokenURL, h.Bearer, nil)
		})

	// Search runs as the heavy users, whose thousands of tasks (at the
	// large dataset) make the ranking work: every match is ranked before
	// the best page is returned.
	add(Search,
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			q := searches[r.IntN(len(searches))]
			_, err := t.Task.ListTasks(metadata.NewOutgoingContext(ctx, h.md),
				&taskv1.ListTasksRequest{PageSize: size, Q: &q, OrderBy: "relevance"})
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			h := p.Heavy[r.IntN(len(p.Heavy))]
			q := url.QueryEscape(searches[r.IntN(len(searches))])
			return t.rest(ctx, http.MethodGet, "/v1/tasks?"+sizeQuery+"&order_by=relevance&q="+q, h.Bearer, nil)
		})

	add(GetTaskStats,
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			_, err := t.Task.GetTaskStats(metadata.NewOutgoingContext(ctx, u.md), &taskv1.GetTaskStatsRequest{})
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			return t.rest(ctx, http.MethodGet, "/v1/tasks:stats", u.Bearer, nil)
		})

	add(UpdateTask,
		func(ctx context.Context, r *rand.Rand) error {
			pr := p.Pairs[r.IntN(len(p.Pairs))]
			_, err := t.Task.UpdateTask(metadata.NewOutgoingContext(ctx, pr.User.md), &taskv1.UpdateTaskRequest{
				Task: &taskv1.Task{
					Id:       pr.TaskID,
					Title:    "Updated by the benchmark " + strconv.Itoa(r.IntN(1000)),
					Priority: taskv1.TaskPriority(1 + r.IntN(4)),
				},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "priority"}},
			})
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			pr := p.Pairs[r.IntN(len(p.Pairs))]
			body := `{"title":"Updated by the benchmark ` + strconv.Itoa(r.IntN(1000)) +
				`","priority":"` + taskv1.TaskPriority(1+r.IntN(4)).String() + `"}`
			return t.rest(ctx, http.MethodPatch, "/v1/tasks/"+strconv.FormatInt(pr.TaskID, 10), pr.User.Bearer, []byte(body))
		})

	add(Login,
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			_, err := t.User.Login(ctx, &userv1.LoginRequest{Login: u.Username, Password: p.Password})
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			body := `{"login":"` + u.Username + `","password":"` + p.Password + `"}`
			return t.rest(ctx, http.MethodPost, "/v1/auth/login", "", []byte(body))
		})

	add(CreateTask,
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			_, err := t.Task.CreateTask(metadata.NewOutgoingContext(ctx, u.md), &taskv1.CreateTaskRequest{Task: &taskv1.Task{
				Title:       newTitles[r.IntN(len(newTitles))],
				Description: "Created by the benchmark",
				Priority:    taskv1.TaskPriority(1 + r.IntN(4)),
				DueDate:     timestamppb.New(dueDate(r)),
			}})
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			body := `{"title":"` + newTitles[r.IntN(len(newTitles))] + `","description":"Created by the benchmark","priority":"` +
				taskv1.TaskPriority(1+r.IntN(4)).String() + `","due_date":"` + dueDate(r).Format(time.RFC3339) + `"}`
			return t.rest(ctx, http.MethodPost, "/v1/tasks", u.Bearer, []byte(body))
		})

	// BatchCreate creates BatchSize tasks like CreateTask's in one call,
	// each with a request id (what an importer sends to retry safely).
	add(BatchCreate,
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			reqs := make([]*taskv1.CreateTaskRequest, BatchSize)
			for i := range reqs {
				reqs[i] = &taskv1.CreateTaskRequest{Task: &taskv1.Task{
					Title:       newTitles[r.IntN(len(newTitles))],
					Description: "Created by the benchmark",
					Priority:    taskv1.TaskPriority(1 + r.IntN(4)),
					DueDate:     timestamppb.New(dueDate(r)),
				}, RequestId: requestID(r)}
			}
			resp, err := t.Task.BatchCreateTasks(metadata.NewOutgoingContext(ctx, u.md), &taskv1.BatchCreateTasksRequest{Requests: reqs})
			if err == nil && len(resp.GetTasks()) != BatchSize {
				err = fmt.Errorf("BatchCreateTasks created %d tasks, want %d", len(resp.GetTasks()), BatchSize)
			}
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			u := p.Users[r.IntN(len(p.Users))]
			var b strings.Builder
			b.WriteString(`{"requests":[`)
			for i := range BatchSize {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"task":{"title":"` + newTitles[r.IntN(len(newTitles))] + `","description":"Created by the benchmark","priority":"` +
					taskv1.TaskPriority(1+r.IntN(4)).String() + `","due_date":"` + dueDate(r).Format(time.RFC3339) + `"},"request_id":"` + requestID(r) + `"}`)
			}
			b.WriteString(`]}`)
			return t.rest(ctx, http.MethodPost, "/v1/tasks:batchCreate", u.Bearer, []byte(b.String()))
		})
	return all
}

// requestID returns a random version 4 UUID.
func requestID(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000 // version 4
	lo = lo&^(3<<62) | 1<<63 // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

var newTitles = []string{"Prepare the quarterly report", "Call the supplier", "Review the pull request",
	"Book the offsite", "Renew the license", "Write the release notes", "Fix the flaky test", "Plan the sprint"}

// dueDate is a day 1 to 30 days from now, on the hour.
func dueDate(r *rand.Rand) time.Time {
	return time.Now().UTC().Add(time.Duration(1+r.IntN(30)) * 24 * time.Hour).Truncate(time.Hour)
}

func checkPage(resp *taskv1.ListTasksResponse, err error, size int) error {
	if err != nil {
		return err
	}
	if n := len(resp.GetTasks()); n != size {
		return fmt.Errorf("ListTasks returned %d tasks, want %d", n, size)
	}
	return nil
}

// rest sends one request to the gateway and reads the whole response; any
// status but 200 is an error.
func (t Targets) rest(ctx context.Context, method, path, bearer string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.Base+path, rd)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s %s: %s: %s", method, stripQuery(path), resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func stripQuery(path string) string {
	if i := bytes.IndexByte([]byte(path), '?'); i >= 0 {
		return path[:i]
	}
	return path
}
