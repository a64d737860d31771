module github.com/todo-platform/todo/services/user

go 1.26

replace github.com/todo-platform/todo/pkg => ../../pkg
