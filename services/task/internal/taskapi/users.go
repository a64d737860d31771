package taskapi

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/auth"
	userv1 "github.com/todo-platform/todo/pkg/gen/todo/user/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// UserCallTimeout bounds a call to the user service when the caller's
// deadline is later or absent.
const UserCallTimeout = 5 * time.Second

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
// and runs within ctx's deadline (at most UserCallTimeout). It returns nil
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
	resp, err := d.client.BatchGetUsers(callCtx, &userv1.BatchGetUsersRequest{Ids: []int64{id}})
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
