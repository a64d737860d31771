package taskapi

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/auth"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// UserCallTimeout bounds a call to the user service when the caller's
// deadline is later or absent.
const UserCallTimeout = 5 * time.Second

// Reconnection to the user service: gRPC's default backoff grows to 120 s
// and a connection attempt may take 20 s, so a user service that starts
// after the task service, or restarts, would be unreachable for minutes;
// these bound the wait after it comes back to a few seconds.
const (
	userBackoffMaxDelay      = 2 * time.Second
	userMinConnectTimeout    = 4 * time.Second
	userBackoffBaseDelay     = 250 * time.Millisecond
	userBackoffMultiplier    = 1.6
	userBackoffJitterPortion = 0.2
)

// DialUserService returns the one connection to the user service at addr
// (plaintext) for the life of the service, with opts added. It connects
// lazily, retries at most userBackoffMaxDelay apart while the user service
// is down, and makes calls wait for the connection (grpc.WaitForReady)
// within their deadline rather than fail at once while it reconnects; every
// call must therefore carry a deadline (UserDirectory and FetchKeys bound
// theirs by UserCallTimeout).
func DialUserService(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  userBackoffBaseDelay,
				Multiplier: userBackoffMultiplier,
				Jitter:     userBackoffJitterPortion,
				MaxDelay:   userBackoffMaxDelay,
			},
			MinConnectTimeout: userMinConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)),
	}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial user service %q: %w", addr, err)
	}
	return conn, nil
}

// FetchKeys is auth.FetchFromUserService with each fetch bounded by the
// caller's deadline and at most UserCallTimeout, so that a fetch waiting
// for the connection (see DialUserService) ends with an error in time.
func FetchKeys(client userv1.UserServiceClient) func(ctx context.Context) ([]auth.PublicKey, error) {
	fetch := auth.FetchFromUserService(client)
	return func(ctx context.Context) ([]auth.PublicKey, error) {
		ctx, cancel := context.WithTimeout(ctx, UserCallTimeout)
		defer cancel()
		return fetch(ctx)
	}
}

// UserDirectory is the task.UserDirectory of the user service, asked over
// gRPC with the caller's access token and deadline.
type UserDirectory struct {
	client userv1.UserServiceClient
}

var _ task.UserDirectory = (*UserDirectory)(nil)

// NewUserDirectory returns a UserDirectory that asks client, which should
// share one connection for the life of the service.
func NewUserDirectory(client userv1.UserServiceClient) *UserDirectory {
	return &UserDirectory{client: client}
}

// CheckAssignee asks the user service's BatchGetUsers whether user id exists
// and is active. The call carries the bearer token of ctx's incoming call
// and runs within ctx's deadline (at most UserCallTimeout), waiting for the
// connection while it (re)connects. It returns nil
// for an active user, task.ErrInvalidAssignee for an unknown or inactive
// one, task.ErrUserServiceUnavailable when the user service cannot be
// reached or does not answer in time, and ctx's error when the caller gave
// up.
func (d *UserDirectory) CheckAssignee(ctx context.Context, id int64) error {
	token, ok := auth.BearerToken(ctx)
	if !ok {
		return fmt.Errorf("check assignee %d: the call carries no bearer token to forward", id)
	}
	callCtx, cancel := context.WithTimeout(auth.WithBearer(ctx, token), UserCallTimeout)
	defer cancel()
	resp, err := d.client.BatchGetUsers(callCtx, &userv1.BatchGetUsersRequest{Ids: []int64{id}}, grpc.WaitForReady(true))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check assignee %d: %w", id, ctx.Err())
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
			return fmt.Errorf("check assignee %d: %w (%v)", id, task.ErrUserServiceUnavailable, err)
		}
		return fmt.Errorf("check assignee %d: BatchGetUsers: %w", id, err)
	}
	for _, u := range resp.GetUsers() {
		if u.GetId() == id && u.GetIsActive() {
			return nil
		}
	}
	return fmt.Errorf("check assignee %d: %w", id, task.ErrInvalidAssignee)
}
