package userapi

import (
	"context"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
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
