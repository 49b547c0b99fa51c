module github.com/zerohop/zerohop/bench/fastjson

go 1.26

require (
	github.com/valyala/fastjson v1.6.10
	github.com/zerohop/zerohop v0.0.0
)

replace github.com/zerohop/zerohop => ../..
