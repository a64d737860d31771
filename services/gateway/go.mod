module github.com/todo-platform/todo/services/gateway

go 1.26

replace github.com/todo-platform/todo/pkg => ../../pkg
