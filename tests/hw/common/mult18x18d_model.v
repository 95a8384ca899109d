// Behavioural model of the ECP5 MULT18X18D for the netlist simulations of
// the tests: signed/unsigned 18 x 18 multiply, input registers A and B and
// the output register on CLK0 when REG_*_CLK = "CLK0" (the only clock eiegen
// uses), each with the clock enable its REG_*_CE names (CE0 .. CE3), no
// pipeline register, no reset (eiegen ties RST* low), no cascade/shift ports.
module MULT18X18D(input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
                  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
                  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
                  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
                  input CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
                  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20,
                  output P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  function ce_of(input [8*3-1:0] name, input c0, c1, c2, c3);
    ce_of = name == "CE0" ? c0 : name == "CE1" ? c1 : name == "CE2" ? c2 : c3;
  endfunction
  wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg [17:0] a_q, b_q;
  reg sa_q, sb_q;
  reg [35:0] p_q;
  always @(posedge CLK0) begin
    if (ce_of(REG_INPUTA_CE, CE0, CE1, CE2, CE3)) begin a_q <= a_in; sa_q <= SIGNEDA; end
    if (ce_of(REG_INPUTB_CE, CE0, CE1, CE2, CE3)) begin b_q <= b_in; sb_q <= SIGNEDB; end
  end
  wire [17:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_q;
  wire [17:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_q;
  wire siga = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_q;
  wire sigb = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_q;
  wire signed [35:0] ea = siga ? {{18{a[17]}}, a} : {18'b0, a};
  wire signed [35:0] eb = sigb ? {{18{b[17]}}, b} : {18'b0, b};
  wire [35:0] prod = ea * eb;
  always @(posedge CLK0)
    if (ce_of(REG_OUTPUT_CE, CE0, CE1, CE2, CE3)) p_q <= prod;
  wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? prod : p_q;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20,
          P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
  initial if (REG_PIPELINE_CLK != "NONE" || (REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0")
              || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
              || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0"))
    $fatal(1, "MULT18X18D model: unsupported register setting");
endmodule
