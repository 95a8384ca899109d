// eiegen_ram: simple dual-port RAM (one synchronous read port, one write port)
// for the memories an image initialises, one cycle read latency (hw/common/ram.py
// adds its output register). A read of the word written in the same cycle is
// undefined (no eiegen design does it): no_rw_check, so synthesis adds no
// collision logic.
//
// Initial contents:
//  - simulation: $readmemh("<dir>/<NAME>.hex") at INIT_OFFSET where <dir> is the plusarg
//    +eiegen_mem=<dir> (missing file or plusarg: all zeros), so one simulator
//    build runs any image;
//  - synthesis (SYNTHESIS defined): $readmemh(INIT_FILE) when INIT_FILE is
//    set, which bakes an image into the bitstream.
module eiegen_ram #(
    parameter WIDTH = 8,
    parameter DEPTH = 16,
    parameter ABITS = 4,
    parameter NAME = "",
    parameter INIT_FILE = "",
    parameter INIT_OFFSET = 0
) (
    input  wire             clk,
    input  wire [ABITS-1:0] raddr,
    output reg  [WIDTH-1:0] rdata,
    input  wire             we,
    input  wire [ABITS-1:0] waddr,
    input  wire [WIDTH-1:0] wdata
);
    (* no_rw_check *)
    reg [WIDTH-1:0] mem [0:DEPTH-1];

`ifdef SYNTHESIS
    initial if (INIT_FILE != "") $readmemh(INIT_FILE, mem, INIT_OFFSET);
`else
    integer i;
    string dir;
    string path;
    integer fd;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
        rdata = {WIDTH{1'b0}};
        if (NAME != "" && $value$plusargs("eiegen_mem=%s", dir)) begin
            path = {dir, "/", NAME, ".hex"};
            fd = $fopen(path, "r");
            if (fd != 0) begin
                $fclose(fd);
                $readmemh(path, mem, INIT_OFFSET);
            end
        end
    end
`endif

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
    end
endmodule
