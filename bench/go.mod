module github.com/keeper-go/keeper/bench

go 1.26.0

require (
	github.com/go-zookeeper/zk v1.0.4
	github.com/keeper-go/keeper v0.0.0
)

replace github.com/keeper-go/keeper => ../
