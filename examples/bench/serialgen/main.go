// Command serialgen writes the same random certificate serials as a hex
// list (for mtlsctl crl build) and a decimal list (for cfssl gencrl), for
// the side-by-side CRL benchmark in examples/bench/crl.sh.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
)

func main() {
	n := flag.Int("n", 1000, "how many serials")
	hexOut := flag.String("hex", "serials.hex", "hex list to write")
	decOut := flag.String("dec", "serials.dec", "decimal list to write")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	hf, err := os.Create(*hexOut)
	check(err)
	df, err := os.Create(*decOut)
	check(err)
	hw, dw := bufio.NewWriter(hf), bufio.NewWriter(df)
	r := mrand.New(mrand.NewPCG(*seed, 7))
	buf := make([]byte, 20)
	x := new(big.Int)
	for range *n {
		for i := range buf {
			buf[i] = byte(r.UintN(256))
		}
		buf[0] = buf[0]&0x7f | 0x01 // 20 bytes, positive, as cfssl issues them
		fmt.Fprintf(hw, "%X\n", buf)
		fmt.Fprintln(dw, x.SetBytes(buf).String())
	}
	check(hw.Flush())
	check(dw.Flush())
	check(hf.Close())
	check(df.Close())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "serialgen:", err)
		os.Exit(2)
	}
}
