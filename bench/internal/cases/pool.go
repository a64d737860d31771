// Package cases holds the benchmark's requests: each API call the benchmark
// names, over gRPC (the generated clients, straight to the service) and over
// REST (net/http through the gateway), with the signed-in users and task ids
// they act on.
package cases

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/metadata"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/bench/internal/dataset"
)

// ListPages is the page ListTasks' deep case reads: the 1000th.
const ListPages = 1000

// User is a signed-in user.
type User struct {
	ID       int64
	Username string
	// Bearer is "Bearer <access token>".
	Bearer string
	md     metadata.MD
}

// Pair is a seeded task and a user who created it.
type Pair struct {
	User   *User
	TaskID int64
}

// Heavy is a heavy user (see dataset.Layout) and the page token of its
// ListPages-th page.
type Heavy struct {
	*User
	DeepToken    string
	deepTokenURL string
}

// Pool is what the cases act on.
type Pool struct {
	// Password is every seeded user's password.
	Password string
	// PageSize is the page size of both ListTasks cases.
	PageSize int
	// Users are signed-in regular users, chosen by sampling seeded tasks (a
	// user with more tasks is likelier to be chosen, as in pgbench's scripts).
	Users []*User
	// Pairs are all seeded tasks of Users.
	Pairs []Pair
	// Heavy are all heavy users, signed in, with the token of their
	// ListPages-th page.
	Heavy []Heavy
}

// Prepare signs in up to users regular users and every heavy user of l over
// gRPC, and pages each heavy user's task list to page ListPages.
func Prepare(ctx context.Context, users taskUserClients, l dataset.Layout, password string, pageSize, loginUsers int, seed uint64) (*Pool, error) {
	p := &Pool{Password: password, PageSize: pageSize}
	r := rand.New(rand.NewPCG(seed, 0x706f6f6c))
	chosen := map[int64]bool{}
	var ids []int64
	for tries := 0; len(ids) < loginUsers && tries < 100*loginUsers; tries++ {
		c := l.Creator(1 + r.Int64N(l.Tasks))
		if !l.IsHeavyUser(c) && !chosen[c] {
			chosen[c] = true
			ids = append(ids, c)
		}
	}
	slices.Sort(ids)
	for u := l.HeavyFirst(); u <= l.Users; u++ {
		ids = append(ids, u)
	}
	signed := make([]*User, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, id := range ids {
		g.Go(func() error {
			u, err := login(gctx, users.User, id, password)
			signed[i] = u
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byID := map[int64]*User{}
	for _, u := range signed {
		if l.IsHeavyUser(u.ID) {
			p.Heavy = append(p.Heavy, Heavy{User: u})
		} else {
			p.Users = append(p.Users, u)
			byID[u.ID] = u
		}
	}
	if len(p.Users) == 0 {
		return nil, fmt.Errorf("prepare: no regular user with tasks among %d samples", 100*loginUsers)
	}
	for id := int64(1); id <= l.Tasks; id++ {
		if u := byID[l.Creator(id)]; u != nil {
			p.Pairs = append(p.Pairs, Pair{User: u, TaskID: id})
		}
	}
	for i := range p.Heavy {
		tok, err := deepToken(ctx, users.Task, p.Heavy[i].User, pageSize)
		if err != nil {
			return nil, err
		}
		p.Heavy[i].DeepToken = tok
		p.Heavy[i].deepTokenURL = url.QueryEscape(tok)
	}
	return p, nil
}

// taskUserClients are the gRPC clients Prepare uses.
type taskUserClients struct {
	Task taskv1.TaskServiceClient
	User userv1.UserServiceClient
}

// Clients returns the clients Prepare needs.
func Clients(task taskv1.TaskServiceClient, user userv1.UserServiceClient) taskUserClients {
	return taskUserClients{Task: task, User: user}
}

func login(ctx context.Context, c userv1.UserServiceClient, id int64, password string) (*User, error) {
	name := dataset.Username(id)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.Login(ctx, &userv1.LoginRequest{Login: name, Password: password})
	if err != nil {
		return nil, fmt.Errorf("log in %s: %w", name, err)
	}
	if got := resp.GetUser().GetId(); got != id {
		return nil, fmt.Errorf("log in %s: signed in as user %d, want %d", name, got, id)
	}
	bearer := "Bearer " + resp.GetTokens().GetAccessToken()
	return &User{ID: id, Username: name, Bearer: bearer, md: metadata.Pairs("authorization", bearer)}, nil
}

// deepToken follows next_page_token from the first page to page ListPages
// and returns the token that reads it, after checking that page is full.
func deepToken(ctx context.Context, c taskv1.TaskServiceClient, u *User, pageSize int) (string, error) {
	ctx = metadata.NewOutgoingContext(ctx, u.md)
	size := int32(pageSize)
	token := ""
	for page := 1; page <= ListPages; page++ {
		resp, err := c.ListTasks(ctx, &taskv1.ListTasksRequest{PageSize: size, PageToken: token})
		if err != nil {
			return "", fmt.Errorf("user %d: list page %d: %w", u.ID, page, err)
		}
		if n := len(resp.GetTasks()); n != pageSize {
			return "", fmt.Errorf("user %d: list page %d has %d tasks, want %d", u.ID, page, n, pageSize)
		}
		if page == ListPages {
			return token, nil
		}
		token = resp.GetNextPageToken()
		if token == "" {
			return "", fmt.Errorf("user %d: list ends at page %d, before page %d", u.ID, page, ListPages)
		}
	}
	panic("unreachable")
}
