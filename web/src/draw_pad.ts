// The drawing pad: white strokes on black, turned into a 28 x 28 digit the way
// MNIST's were made: the ink's bounding box scaled to fit 20 x 20 pixels
// (area-averaged), then shifted so its centre of mass is the image centre.

const SIDE = 28;
const BOX = 20;

export class DrawPad {
  private drawing = false;
  private last: [number, number] | null = null;
  private inked = false;
  private readonly ctx: CanvasRenderingContext2D;

  /** `onStroke` runs after each stroke ends (the page predicts then). */
  constructor(readonly canvas: HTMLCanvasElement, private readonly onStroke: () => void) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.drawing = true;
      this.last = this.point(e);
      this.dot(this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      const next = this.point(e);
      this.line(this.last ?? next, next);
      this.last = next;
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.last = null;
      this.onStroke();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  get isEmpty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  private point(e: PointerEvent): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    return [((e.clientX - rect.left) / rect.width) * this.canvas.width, ((e.clientY - rect.top) / rect.height) * this.canvas.height];
  }

  private get penWidth(): number {
    return this.canvas.width / 12;
  }

  private dot([x, y]: [number, number]): void {
    this.ctx.fillStyle = '#fff';
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.penWidth / 2, 0, 2 * Math.PI);
    this.ctx.fill();
    this.inked = true;
  }

  private line(from: [number, number], to: [number, number]): void {
    const ctx = this.ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = this.penWidth;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    this.inked = true;
  }

  /** The drawing as 28 x 28 pixels in [0, 1] (row-major), or null when nothing is drawn. */
  toDigit(): Float32Array | null {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const ink = new Float32Array(width * height);
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = rgba[4 * (y * width + x)]! / 255;
        ink[y * width + x] = v;
        if (v > 0.05) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      }
    }
    if (x1 < 0) return null;
    return centreOfMassShift(boxDownsample(ink, width, x0, y0, x1 - x0 + 1, y1 - y0 + 1));
  }
}

/** The box [x0, x0 + w) x [y0, y0 + h) of `ink` scaled to fit BOX x BOX, centred in a SIDE x SIDE image (area average). */
function boxDownsample(ink: Float32Array, stride: number, x0: number, y0: number, w: number, h: number): Float32Array {
  const scale = BOX / Math.max(w, h);
  const offsetX = (SIDE - w * scale) / 2;
  const offsetY = (SIDE - h * scale) / 2;
  const sums = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < h; y++) {
    const ty = Math.floor(offsetY + (y + 0.5) * scale);
    for (let x = 0; x < w; x++) {
      const tx = Math.floor(offsetX + (x + 0.5) * scale);
      sums[ty * SIDE + tx]! += ink[(y0 + y) * stride + x0 + x]!;
    }
  }
  // Each target pixel gathers about 1 / scale^2 source pixels.
  const area = 1 / (scale * scale);
  return sums.map((s) => Math.min(1, s / area));
}

/** Shifts the image (zero fill) so its centre of mass lands on the centre pixel. */
function centreOfMassShift(image: Float32Array): Float32Array {
  let total = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = image[y * SIDE + x]!;
      total += v;
      cx += v * x;
      cy += v * y;
    }
  }
  if (total === 0) return image;
  const dx = Math.round((SIDE - 1) / 2 - cx / total);
  const dy = Math.round((SIDE - 1) / 2 - cy / total);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const sx = x - dx;
      const sy = y - dy;
      if (sx >= 0 && sx < SIDE && sy >= 0 && sy < SIDE) out[y * SIDE + x] = image[sy * SIDE + sx]!;
    }
  }
  return out;
}
