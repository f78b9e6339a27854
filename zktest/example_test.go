package zktest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

func Example() {
	zk, err := zktest.New(zktest.Nodes(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer zk.Close()

	// zk.Servers() is the connect string: 127.0.0.1:<port>,... (free ports).
	fmt.Println(len(strings.Split(zk.Servers(), ",")), "servers")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mode, err := zk.Mode(ctx, zk.Leader())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mode:", mode)
	// Output:
	// 3 servers
	// mode: leader
}
