package userapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// VerifyEmail spends a verification token.
func (s *Server) VerifyEmail(ctx context.Context, req *userv1.VerifyEmailRequest) (*userv1.User, error) {
	u, err := s.svc.VerifyEmail(ctx, req.GetToken())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{Token: "token"})
	}
	return toProtoUser(u), nil
}

// ResendVerification mails the caller a new verification token.
func (s *Server) ResendVerification(ctx context.Context, _ *userv1.ResendVerificationRequest) (*userv1.ResendVerificationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.ResendVerification(ctx, c); err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.ResendVerificationResponse{}, nil
}

// RequestPasswordReset mails a reset token, if the account may get one;
// the answer is the same either way.
func (s *Server) RequestPasswordReset(ctx context.Context, req *userv1.RequestPasswordResetRequest) (*userv1.RequestPasswordResetResponse, error) {
	if err := s.svc.RequestPasswordReset(ctx, req.GetLogin(), s.ClientAddr(ctx)); err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return &userv1.RequestPasswordResetResponse{}, nil
}

// ResetPassword spends a reset token and sets the new password.
func (s *Server) ResetPassword(ctx context.Context, req *userv1.ResetPasswordRequest) (*userv1.ResetPasswordResponse, error) {
	if err := s.svc.ResetPassword(ctx, req.GetToken(), req.GetNewPassword(), s.ClientAddr(ctx)); err != nil {
		return nil, s.status(ctx, err, fieldPaths{Token: "token", Password: "new_password"})
	}
	return &userv1.ResetPasswordResponse{}, nil
}

// CreatePersonalAccessToken creates a token for the caller and returns it
// with its secret.
func (s *Server) CreatePersonalAccessToken(ctx context.Context, req *userv1.CreatePersonalAccessTokenRequest) (*userv1.PersonalAccessToken, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetPersonalAccessToken()
	t, err := s.svc.CreatePAT(ctx, c, user.NewPAT{
		Name:      in.GetName(),
		ReadOnly:  in.GetScope() != userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_WRITE,
		ExpiresAt: optionalTime(in.GetExpiresAt()),
	})
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{PATExpiry: "personal_access_token.expires_at"})
	}
	return toProtoPAT(t), nil
}

// ListPersonalAccessTokens lists a user's tokens.
func (s *Server) ListPersonalAccessTokens(ctx context.Context, req *userv1.ListPersonalAccessTokensRequest) (*userv1.ListPersonalAccessTokensResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.svc.ListPATs(ctx, c, req.GetUserId())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	out := &userv1.ListPersonalAccessTokensResponse{PersonalAccessTokens: make([]*userv1.PersonalAccessToken, 0, len(ts))}
	for _, t := range ts {
		out.PersonalAccessTokens = append(out.PersonalAccessTokens, toProtoPAT(t))
	}
	return out, nil
}

// RevokePersonalAccessToken revokes a token.
func (s *Server) RevokePersonalAccessToken(ctx context.Context, req *userv1.RevokePersonalAccessTokenRequest) (*userv1.PersonalAccessToken, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.RevokePAT(ctx, c, req.GetId())
	if err != nil {
		return nil, s.status(ctx, err, fieldPaths{})
	}
	return toProtoPAT(t), nil
}

// optionalTime returns ts as a time, zero when ts is nil.
func optionalTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// toProtoPAT converts a token; the secret is set only when t has it.
func toProtoPAT(t user.PersonalAccessToken) *userv1.PersonalAccessToken {
	scope := userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_WRITE
	if t.ReadOnly {
		scope = userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY
	}
	out := &userv1.PersonalAccessToken{
		Id: t.ID, UserId: t.UserID, Name: t.Name, Scope: scope,
		CreatedAt: timestamppb.New(t.CreatedAt), ExpiresAt: timestamppb.New(t.ExpiresAt), Token: t.Secret,
	}
	if !t.RevokedAt.IsZero() {
		out.RevokedAt = timestamppb.New(t.RevokedAt)
	}
	return out
}
